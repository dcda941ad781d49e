"""Engines, sessions and migrations.

SQLite gets WAL, synchronous=NORMAL and enforced foreign keys on every
connection; PostgreSQL is used as it comes. Alembic's revisions in
migrations/ are the only way the schema is made or changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailer.errors import DatabaseNotReady, SettingsError
from mailer.resources import migrations_dir
from mailer.settings import redact_url

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: a third of a second that every
# delivery process and CLI command paid at start-up without migrating anything.


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_foreign_keys_on(dbapi_conn: Any, _record: Any) -> None:
    # Migrations turn foreign keys off on their connection (migrations/env.py);
    # a connection goes back to the pool outside any transaction, where the
    # pragma takes effect, so no later user of it runs unchecked.
    if dbapi_conn is not None:  # None once the connection was invalidated
        dbapi_conn.execute("PRAGMA foreign_keys=ON")


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError([f"database_url: {redact_url(url)!r} is not a database URL"]) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkin", _sqlite_foreign_keys_on)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite database (None for PostgreSQL or an in-memory one)."""
    name = engine.url.database
    if (
        engine.dialect.name != "sqlite"
        or not name
        or name == ":memory:"
        or name.startswith("file:")
    ):
        return None
    return Path(name)


def _create_private(engine: Engine) -> None:
    """Make a new SQLite file readable by its owner only: it holds personal data.

    SQLite gives its -wal and -shm files the database file's mode.
    """
    path = sqlite_path(engine)
    if path is None or path.exists():
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # made meanwhile by another process: theirs to set up
    except OSError as exc:
        raise DatabaseNotReady(f"cannot create the database file {path}: {exc.strerror}") from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    _create_private(engine)
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_file(engine: Engine) -> None:
    """Fail clearly, before connecting creates it empty, if a SQLite file is missing."""
    path = sqlite_path(engine)
    if path is not None and not path.exists():
        raise DatabaseNotReady(
            f"there is no database at {path}: to start, run `mailer init` "
            "(or set MAILER_DATABASE_URL, or pass --config FILE)"
        )


def require_current(engine: Engine) -> None:
    """Fail clearly unless the database exists and is migrated to head.

    A missing SQLite file is reported, not created empty by connecting to it.
    """
    require_file(engine)
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise DatabaseNotReady(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}"
        ) from None
    if current is None:
        raise DatabaseNotReady(
            "the database has no tables yet: run `mailer init` (new setup) or `mailer db upgrade`"
        )
    if current != head_revision():
        raise DatabaseNotReady(
            f"the database schema is at revision {current}, not the current one: "
            "run `mailer db upgrade`"
        )
