"""subscribers.link_key, AUTOINCREMENT ids on SQLite, the confirmation outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 02:40:00.000000

Rows that exist now keep a NULL key, so the links and VERP tags already
sent to them keep working; every new row gets one (the model's default, or
the column's server default for plain SQL). On SQLite the table is rebuilt
with AUTOINCREMENT so an erased subscriber's id is never given out again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_KEY = "replace(gen_random_uuid()::text, '-', '')"
_SQLITE_KEY = "(lower(hex(randomblob(16))))"
_NEW = "_subscribers_0005"


def _subscribers_table(name: str, key_default: str | None) -> None:
    """The subscribers table on SQLite: with link_key and AUTOINCREMENT, or as in 0004."""
    columns = _v4_columns()
    if key_default is not None:
        columns.append(
            sa.Column(
                "link_key", sa.String(length=32), nullable=True, server_default=sa.text(key_default)
            )
        )
    op.create_table(
        name,
        *columns,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("email_normalized", name=op.f("uq_subscribers_email_normalized")),
        sqlite_autoincrement=key_default is not None,
    )


_COLUMNS = (
    "id, email, email_normalized, name, language, attributes, consent_source, consent_at,"
    " consent_ip, created_at, updated_at, email_hash"
)


def _rebuild_sqlite(key_default: str | None) -> None:
    """SQLite's own recipe for a table change: new table, copy, drop, rename.

    migrations/env.py turns foreign keys off around every migration (the
    DROP TABLE would otherwise cascade and delete every subscription) and
    checks them before it commits; the other tables' references name
    "subscribers" and find the new table once it is renamed.
    """
    _subscribers_table(_NEW, key_default)
    # Existing rows get NULL, not the column's default: their links stay valid.
    into, values = (
        (f"{_COLUMNS}, link_key", f"{_COLUMNS}, NULL") if key_default else (_COLUMNS, _COLUMNS)
    )
    op.execute(f"INSERT INTO {_NEW} ({into}) SELECT {values} FROM subscribers ORDER BY id")
    op.drop_table("subscribers")
    op.rename_table(_NEW, "subscribers")


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite(_SQLITE_KEY)
    else:
        # Added without a default first: a volatile default in ADD COLUMN would
        # give the existing rows keys, and break the links already sent.
        op.add_column("subscribers", sa.Column("link_key", sa.String(length=32), nullable=True))
        op.alter_column("subscribers", "link_key", server_default=sa.text(_PG_KEY))
    op.create_table(
        "confirmation_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["lists.id"],
            name=op.f("fk_confirmation_outbox_list_id_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_confirmation_outbox_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmation_outbox")),
    )
    op.create_index(
        op.f("ix_confirmation_outbox_next_attempt_at"),
        "confirmation_outbox",
        ["next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_confirmation_outbox_subscriber_id"),
        "confirmation_outbox",
        ["subscriber_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_confirmation_outbox_subscriber_id"), table_name="confirmation_outbox")
    op.drop_index(op.f("ix_confirmation_outbox_next_attempt_at"), table_name="confirmation_outbox")
    op.drop_table("confirmation_outbox")
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite(None)
    else:
        op.drop_column("subscribers", "link_key")


def _v4_columns() -> list[sa.Column[object]]:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("attributes", json, nullable=False),
        sa.Column("consent_source", sa.String(length=200), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_ip", sa.String(length=45), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
    ]
