"""`mailer demo --serve`: after the demo, keep the console running on the demo's data.

A demo editor gets a one-time login link; the demo's SMTP server keeps
storing what is sent into the same Maildir, and the runner delivers what is
scheduled in the console. Ctrl-C stops everything.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import click
from sqlalchemy import Engine

from mailer.accounts import audit, users
from mailer.accounts.audit import CLI
from mailer.cli.foreground import stop_on_signals
from mailer.db import session_scope
from mailer.devserver import MaildirServer, free_port
from mailer.scheduler.runner import Runner
from mailer.settings import Settings
from mailer.web.server import WebServer

DEMO_EDITOR = "editor@lmec.example.org"


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def serve_console(settings: Settings, engine: Engine, maildir: Path) -> None:
    wanted = settings.web_port
    port = _port(wanted)
    with MaildirServer(maildir) as smtp:
        settings = dataclasses.replace(
            settings,
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            web_host="127.0.0.1",
            web_port=port,
            base_url=f"http://127.0.0.1:{port}",
        )
        with session_scope(engine) as s:
            user = users.create_user(s, DEMO_EDITOR, "editor")
            audit.record(s, CLI, "user.create", user.email, role=user.role, demo=True)
            token = users.one_time_token(settings.secret_key, user, "login")
        runner = Runner(engine, settings)
        web = WebServer(settings, engine)
        with stop_on_signals() as stop:
            runner.start()
            web.start()
            click.echo("")
            if port != wanted:  # else a user opening the port they asked for finds nothing
                click.echo(f"Port {wanted} is taken, so the console uses port {port}.")
            click.echo(f"The console is running on {settings.base_url}/admin/ (Ctrl-C stops it).")
            click.echo(f"Log in once as the demo editor {DEMO_EDITOR} with this link:")
            click.echo(f"  {settings.base_url}/admin/login-link/{token}")
            click.echo(f"Mail sent from the console lands in {maildir}/new/")
            while not stop.wait(0.5):
                pass
            web.stop()
            runner.stop()
