"""`mailer init` and `mailer db …`: first setup and schema upgrades."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from mailer.cli.context import app, print_json
from mailer.db import current_revision, head_revision, make_engine, upgrade
from mailer.settings import DEFAULT_CONFIG, load_settings


def config_text(database_url: str, secret_key: str) -> str:
    return f"""\
# mailer settings. Every key can be overridden by MAILER_<KEY> in the environment.
database_url = "{database_url}"
secret_key = "{secret_key}"

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


@click.command()
@click.option(
    "--database-url",
    default="sqlite:///./mailer.db",
    show_default=True,
    help="Where the database lives (SQLite file or postgresql://…).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing settings file.")
@click.pass_context
def init(ctx: click.Context, database_url: str, force: bool) -> None:
    """Write a settings file with a new secret key and create the database.

    \b
    Example:
      mailer init --database-url sqlite:///./mailer.db
    """
    path = Path(app(ctx).config or DEFAULT_CONFIG)
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists; use --force to replace it")
    text = config_text(database_url, secrets.token_urlsafe(32))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)  # it holds the secret key
    settings = load_settings(path)
    upgrade(make_engine(settings.database_url))
    click.echo(f"Wrote {path} and created the database at {settings.database_url}")
    click.echo("Next: mailer lists create NAME --title 'Your newsletter'")


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
    engine = app(ctx).engine
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
