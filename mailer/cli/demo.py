"""`mailer demo`: the main job on embedded defaults, in a workspace of its own.

Everything runs on this machine: a SQLite database in the workspace, and an
SMTP server on loopback (aiosmtpd) that stores what it receives in a Maildir.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shlex
import shutil
import sys
from pathlib import Path

import click

from mailer.campaigns import service as campaigns
from mailer.cli.context import App, app
from mailer.cli.foreground import deliver_in_foreground
from mailer.compose import SAMPLE, compose
from mailer.content import load_issue_set
from mailer.db import make_engine, session_scope, upgrade
from mailer.devserver import MaildirServer
from mailer.resources import examples_dir
from mailer.settings import Settings
from subscribers.importer import import_csv
from subscribers.lists import create_list, summarize_list
from subscribers.models import utcnow

LIST = "lmec-news"
# Left in a workspace the demo made, so a later run may empty it again: a
# folder without it is the user's, and the demo never deletes it.
MARKER = ".mailer-demo-workspace"
# What a demo made before the marker existed: such a folder is still the demo's.
_EARLIER_DEMO = {"mailer.db", "mailer.db-wal", "mailer.db-shm", "preview.html", "received"}
POSTAL = "No.5 Houyingfang Hutong, Xicheng District, Beijing, 100035, P. R. China"


def prepare_workspace(workspace: Path) -> None:
    """An empty folder for the demo: made anew, or emptied if a demo made it."""
    if workspace.exists() and not workspace.is_dir():
        raise click.ClickException(f"{workspace} is a file, not a folder for the demo")
    if workspace.is_dir() and any(workspace.iterdir()):
        names = {p.name for p in workspace.iterdir()}
        if not (workspace / MARKER).is_file() and not names <= _EARLIER_DEMO:
            raise click.ClickException(
                f"{workspace} is not empty and was not made by `mailer demo`; "
                "choose another folder with --workspace (nothing was deleted)"
            )
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / MARKER).write_text(
        "Made by `mailer demo`, which empties this folder on its next run.\n", encoding="utf-8"
    )


@click.command()
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-workspace"),
    show_default=True,
    help="Folder for the demo's database, preview and received mail (made anew each run;"
    " a non-empty folder the demo did not make is refused).",
)
@click.option("--serve", is_flag=True, help="Then keep the staff console running on the demo data.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="With --serve: the console's port on 127.0.0.1 (if taken, any free one).",
)
@click.pass_context
def demo(ctx: click.Context, workspace: Path, serve: bool, port: int) -> None:
    """Send the example LMEC issue to the example list, with nothing to set up.

    Creates a SQLite database and the list, imports the example subscribers,
    starts an SMTP server on loopback that keeps what it receives in a
    Maildir, sends the issue with a progress bar, and prints the report.

    With --serve, the staff console then stays up on the demo data and a
    one-time login link for a demo editor is printed.

    \b
    Example:
      mailer demo --workspace /tmp/mailer-demo
    """
    out = app(ctx).out
    prepare_workspace(workspace)
    db_path = workspace / "mailer.db"
    maildir = workspace / "received"
    with MaildirServer(maildir) as server:
        settings = dataclasses.replace(
            Settings(),
            database_url=f"sqlite:///{db_path}",
            smtp_host=server.host,
            smtp_port=server.port,
            from_address="LMEC Newsletter <newsletter@lmec.example.org>",
            secret_key=secrets.token_urlsafe(32),
            organization="Lancang-Mekong Environmental Cooperation Center",
            postal_address=POSTAL,
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)
        out.print(f"1. Database: {db_path}")
        with session_scope(engine) as s:
            ml = create_list(s, LIST, title="LMEC Newsletter", double_opt_in=True)
            s.expunge(ml)
        source = examples_dir() / "subscribers.csv"
        with session_scope(engine) as s:
            report = import_csv(s, source, LIST, confirmed=True)
            counts = summarize_list(s, LIST).counts
        out.print(
            f"2. List {LIST!r}: imported {source.name} — {report.added} added, "
            f"{report.rejected_count} rejected; {counts['confirmed']} confirmed"
        )
        issue_file = examples_dir() / "issues" / "lmec-2021-issue-7.md"
        issues = load_issue_set(issue_file)
        preview = workspace / "preview.html"
        factory = compose(issues, settings, ml, "preview").factory(None)
        preview.write_text(factory.variant.html.fill_html(factory.values(SAMPLE)), encoding="utf-8")
        out.print(f"3. Rendered {issue_file.name}; preview: {preview}")
        with session_scope(engine) as s:
            campaign = campaigns.create_campaign(s, issues, LIST, utcnow())
            campaigns.start_campaign(s, campaign)
            cid = campaign.id
        out.print(
            f"4. Sending campaign {cid} through the demo SMTP server on {server.host}:{server.port}"
        )
        final = deliver_in_foreground(App(None, settings=settings, engine=engine), cid)
        received = server.received
    c = final.counts
    out.print(
        f"5. Report: {final.recipients} recipients — sent {c['sent']}, "
        f"failed {c['failed']}, deferred {c['deferred']}, skipped {c['skipped']}, "
        f"in doubt {final.in_doubt}; campaign {final.status}"
    )
    out.print(f"    The server received {received} messages, stored in {maildir}/new/")
    config = workspace / "mailer.toml"
    write_config(config, db_path, settings)
    out.print(f"    Open {preview} in a browser to see the issue.")
    out.print("    Look around with the CLI, using the demo's settings file:")
    program = invocation()
    for command in ("campaigns ls", f"campaigns status {cid}", f"lists show {LIST}"):
        out.print(f"      {program} --config {shlex.quote(str(config))} {command}")
    if c["sent"] != final.recipients or final.status != "finished":
        raise click.ClickException("the demo did not deliver every message")
    if serve:
        from mailer.cli.demo_console import serve_console

        serve_console(dataclasses.replace(settings, web_port=port), engine, maildir)


def invocation() -> str:
    """How to run this program again from here: `mailer` when that is on PATH.

    After `make demo` it is not (the virtual environment is not activated),
    so the closing lines name the script that ran, e.g. `.venv/bin/mailer`.
    """
    script = Path(os.path.abspath(sys.argv[0]))
    on_path = shutil.which("mailer")
    if script.name != "mailer" or (on_path and Path(os.path.abspath(on_path)) == script):
        return "mailer"  # run as `python -m mailer`, under a test runner, or on PATH
    try:
        return shlex.quote(str(script.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(script))


def write_config(path: Path, database: Path, settings: Settings) -> None:
    """The demo's database and secret key, so `mailer --config` can look at what it did.

    The demo's SMTP server is gone after the run, so sending is left at the defaults.
    """
    text = (
        "# Written by `mailer demo`: its database and secret key.\n"
        f"database_url = {json.dumps(f'sqlite:///{database.resolve()}', ensure_ascii=False)}\n"
        f"secret_key = {json.dumps(settings.secret_key)}\n"
        f"from = {json.dumps(settings.from_address, ensure_ascii=False)}\n"
        f"organization = {json.dumps(settings.organization, ensure_ascii=False)}\n"
        f"postal_address = {json.dumps(settings.postal_address, ensure_ascii=False)}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


COMMANDS = [demo]
