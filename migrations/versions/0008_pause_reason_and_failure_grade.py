"""campaigns.pause_reason and deliveries.failure (who a failure belongs to)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pause_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("failure")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("pause_reason")
