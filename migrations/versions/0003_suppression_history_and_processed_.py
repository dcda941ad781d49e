"""suppression history and processed bounce messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 11:59:52.580259
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_messages")),
        sa.UniqueConstraint("key", name=op.f("uq_processed_messages_key")),
    )
    op.create_table(
        "suppression_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('suppressed', 'unsuppressed')", name=op.f("ck_suppression_events_action")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_events")),
    )
    with op.batch_alter_table("suppression_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suppression_events_email_hash"), ["email_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("suppression_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppression_events_email_hash"))

    op.drop_table("suppression_events")
    op.drop_table("processed_messages")
