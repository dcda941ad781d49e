"""Alembic environment: runs on a connection handed in by mailer.db, or on a URL.

``mailer db upgrade`` passes its own connection in ``config.attributes``;
running ``alembic`` by hand (alembic.ini at the repository top) uses
MAILER_DATABASE_URL or the default SQLite file.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from mailer.db import make_engine
from mailer.models import metadata

config = context.config


def run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table (copy, DROP, rename). With foreign keys
        # enforced, as mailer.db turns them on for every connection, the DROP
        # cascades: rebuilding `subscribers` deleted every subscription. The
        # pragma only takes effect outside a transaction, so it comes first;
        # the references are checked before the migration commits, and
        # mailer.db turns enforcement back on when the connection is returned.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    url = os.environ.get("MAILER_DATABASE_URL", "sqlite:///./mailer.db")
    with make_engine(url).begin() as conn:
        run(conn)


if context.is_offline_mode():
    raise SystemExit("mailer's migrations run online only: give a database URL")
main()
