"""`mailer init` and `mailer db …`: first setup and schema upgrades."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from mailer.cli.context import app, print_json
from mailer.db import current_revision, head_revision, make_engine, upgrade
from mailer.errors import SettingsError
from mailer.settings import DEFAULT_CONFIG, load_settings, redact_url


def config_text(database_url: str, secret_key: str) -> str:
    # json.dumps makes a valid TOML basic string: a quote in the URL cannot add keys.
    return f"""\
# mailer settings. Every key can be overridden by MAILER_<KEY> in the environment.
database_url = {json.dumps(database_url, ensure_ascii=False)}
secret_key = {json.dumps(secret_key)}

# Sending
from = "Newsletter <newsletter@localhost>"
smtp_host = "localhost"
smtp_port = 25
smtp_security = "auto"      # auto (STARTTLS when offered) | none | starttls | tls
# smtp_username = ""
# smtp_password = ""        # prefer MAILER_SMTP_PASSWORD in the environment
rate_limit = 0              # messages per second, 0 = no limit

# Links in messages point here (https for one-click unsubscribe; `mailer doctor` checks)
base_url = "http://127.0.0.1:8000"
"""


def _old_secret(path: Path) -> str | None:
    """The secret key of the settings file being replaced: links already sent use it."""
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("secret_key")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(
            f"cannot read the secret key of {path} ({exc}); "
            "fix the file, or pass --new-secret to make a new key (old links stop working)"
        ) from None
    return value if isinstance(value, str) and value.strip() else None


@contextmanager
def _staged(path: Path, text: str) -> Iterator[Path]:
    """A private file beside ``path``; it replaces ``path`` only if the block succeeds.

    mkstemp opens with O_EXCL and mode 0600, so the secret key is never in a
    file others can read, and os.replace swaps it in at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@click.command()
@click.option(
    "--database-url",
    default="sqlite:///./mailer.db",
    show_default=True,
    help="Where the database lives (SQLite file or postgresql://…).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing settings file, keeping its secret key.",
)
@click.option(
    "--new-secret",
    is_flag=True,
    help="With --force: make a new secret key (links in mail already sent stop working).",
)
@click.pass_context
def init(ctx: click.Context, database_url: str, force: bool, new_secret: bool) -> None:
    """Write a settings file with a new secret key and create the database.

    The database is created (or migrated) before the settings file is
    written, so a wrong --database-url leaves an existing file as it was.

    \b
    Example:
      mailer init --database-url sqlite:///./mailer.db
    """
    if any(ord(ch) < 32 for ch in database_url):
        raise click.BadParameter("contains a control character", param_hint="--database-url")
    path = Path(app(ctx).config or DEFAULT_CONFIG)
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists; use --force to replace it")
    kept = _old_secret(path) if path.exists() and not new_secret else None
    text = config_text(database_url, kept or secrets.token_urlsafe(32))
    with _staged(path, text) as tmp:
        try:
            settings = load_settings(tmp)
        except SettingsError as exc:
            raise SettingsError([p.replace(str(tmp), str(path)) for p in exc.problems]) from None
        create_database(settings.database_url)
    shown = redact_url(settings.database_url)
    click.echo(f"Wrote {path} and created the database at {shown}")
    if kept:
        click.echo(
            "Kept the secret key of the old settings file, so links already sent still work."
        )
    click.echo("Next: mailer lists create NAME --title 'Your newsletter'")


def create_database(url: str) -> None:
    """Create or migrate the database at ``url``, with a clear error if it is unreachable."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    except (SQLAlchemyError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise click.ClickException(
            f"cannot create the database at {redact_url(url)}: {hide_password(str(reason), url)}"
        ) from None
    finally:
        engine.dispose()


def hide_password(text: str, url: str) -> str:
    """``text`` without the password of ``url``, should a driver repeat it."""
    password = make_url(url).password if "://" in url else None
    return text.replace(str(password), "***") if password else text


@click.group()
def db() -> None:
    """Database schema.

    \b
    Example:
      mailer db upgrade
    """


@db.command("upgrade")
@click.option("--json", "as_json", is_flag=True, help="Print the revisions as JSON.")
@click.pass_context
def db_upgrade(ctx: click.Context, as_json: bool) -> None:
    """Create the database or migrate it to the current schema.

    \b
    Example:
      MAILER_DATABASE_URL=postgresql://mailer@localhost/mailer mailer db upgrade
    """
    engine = app(ctx).new_engine()
    before = current_revision(engine)
    upgrade(engine)
    after = head_revision()
    if as_json:
        print_json({"from": before, "to": after})
    elif before == after:
        click.echo(f"Database already at the current revision ({after}).")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to {after}.")


COMMANDS = [init, db]
