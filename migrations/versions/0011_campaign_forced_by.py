"""campaigns.forced_at, forced_by: when and by whom a --force overrode the doctor

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forced_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("forced_by", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("forced_by")
        batch_op.drop_column("forced_at")
