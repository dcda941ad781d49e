"""campaigns, delivery ledger, bounce events, scheduler jobs; subscribers.email_hash

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 11:30:03.186587
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("next_run_time", sa.Double(), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False
        )

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=250), nullable=False),
        sa.Column("default_language", sa.String(length=35), nullable=False),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sending', 'paused', 'finished', 'cancelled', 'missed')",
            name=op.f("ck_campaigns_status"),
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], name=op.f("fk_campaigns_list_id_lists"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_list_id"), ["list_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaigns_slug"), ["slug"], unique=False)

    op.create_table(
        "bounce_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('hard', 'soft', 'complaint')", name=op.f("ck_bounce_events_kind")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_bounce_events_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_bounce_events_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_events")),
    )
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bounce_events_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bounce_events_email_hash"), ["email_hash"], unique=False
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("in_doubt", sa.Boolean(), nullable=False),
        sa.Column("smtp_code", sa.Integer(), nullable=True),
        sa.Column("smtp_reply", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=250), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'skipped')",
            name=op.f("ck_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_deliveries_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_deliveries_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "campaign_id", "subscriber_id", name=op.f("uq_deliveries_campaign_id_subscriber_id")
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_claim", ["campaign_id", "status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deliveries_subscriber_id"), ["subscriber_id"], unique=False
        )

    # subscribers.email_hash: added empty, filled from email_normalized in
    # batches (SQL has no portable SHA-256), then made required and unique.
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_hash", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    subscribers = sa.table(
        "subscribers",
        sa.column("id", sa.Integer()),
        sa.column("email_normalized", sa.String()),
        sa.column("email_hash", sa.String()),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(subscribers.c.id, subscribers.c.email_normalized)
            .where(subscribers.c.id > last)
            .order_by(subscribers.c.id)
            .limit(5000)
        ).all()
        if not rows:
            break
        conn.execute(
            subscribers.update().where(subscribers.c.id == sa.bindparam("sid")),
            [
                {"sid": r.id, "email_hash": hashlib.sha256(r.email_normalized.encode()).hexdigest()}
                for r in rows
            ],
        )
        last = rows[-1].id
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.alter_column("email_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_subscribers_email_hash"), ["email_hash"])


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_subscribers_email_hash"), type_="unique")
        batch_op.drop_column("email_hash")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_subscriber_id"))
        batch_op.drop_index("ix_deliveries_claim")

    op.drop_table("deliveries")
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bounce_events_email_hash"))
        batch_op.drop_index(batch_op.f("ix_bounce_events_campaign_id"))

    op.drop_table("bounce_events")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_slug"))
        batch_op.drop_index(batch_op.f("ix_campaigns_list_id"))

    op.drop_table("campaigns")
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apscheduler_jobs_next_run_time"))

    op.drop_table("apscheduler_jobs")
