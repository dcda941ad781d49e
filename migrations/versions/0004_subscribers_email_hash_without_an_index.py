"""subscribers.email_hash without an index (random keys made bulk imports slow)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 12:11:33.848068
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_subscribers_email_hash"), type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_subscribers_email_hash"), ["email_hash"])
