"""archived_issues: the web archive's snapshot of each campaign's issue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archived_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_archived_issues_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archived_issues")),
        sa.UniqueConstraint(
            "campaign_id", "language", name=op.f("uq_archived_issues_campaign_id_language")
        ),
    )


def downgrade() -> None:
    op.drop_table("archived_issues")
