"""bounce status and diagnostic, block/fail/delayed kinds, processed-message details

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('hard', 'soft', 'complaint')"
NEW_KINDS = "kind IN ('hard', 'soft', 'complaint', 'block', 'fail', 'delayed')"


def upgrade() -> None:
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("diagnostic", sa.Text(), nullable=True))
        batch_op.drop_constraint(batch_op.f("ck_bounce_events_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_bounce_events_kind"), NEW_KINDS)
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.Text(), server_default="", nullable=False))
        batch_op.create_index(
            batch_op.f("ix_processed_messages_outcome"), ["outcome"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_messages_outcome"))
        batch_op.drop_column("detail")
        batch_op.drop_column("message_id")
    op.execute("DELETE FROM bounce_events WHERE kind IN ('block', 'fail', 'delayed')")
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_bounce_events_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_bounce_events_kind"), OLD_KINDS)
        batch_op.drop_column("diagnostic")
        batch_op.drop_column("status")
