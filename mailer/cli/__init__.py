"""The `mailer` command: a thin layer over the service functions.

Every command's help carries an example (a test holds every command to it).
Errors a user can cause are printed as one clear message with exit code 1;
usage errors exit 2 (click's own).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from mailer import __version__
from mailer.cli.context import App, print_json
from mailer.cli.errors import as_click_error, error_object, wants_json
from mailer.errors import MailerError
from subscribers.errors import SubscribersError


class MailerGroup(click.Group):
    """The top group: turns the service's own errors into a message and exit 1.

    Under --json the error is a JSON object on stdout instead, so a script
    reading stdout always gets JSON (see mailer.cli.errors).
    """

    def invoke(self, ctx: click.Context) -> Any:
        as_json = wants_json(ctx.args)
        try:
            return super().invoke(ctx)
        except (
            MailerError,
            SubscribersError,
            OperationalError,
            sqlite3.OperationalError,
            click.ClickException,
        ) as exc:
            if not as_json:
                if isinstance(exc, click.ClickException):
                    raise  # click's own, with its usage hint
                raise as_click_error(exc) from None
            error = as_click_error(exc)
        print_json(error_object(error))
        ctx.exit(error.exit_code)


@click.group(cls=MailerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    envvar="MAILER_CONFIG",
    help="Settings file (default: ./mailer.toml if present). Also MAILER_CONFIG.",
)
@click.version_option(__version__, prog_name="mailer")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Self-hosted newsletter service: lists, subscribers, issues, sending.

    \b
    Example:
      mailer init && mailer lists create news --title "Our newsletter"
    """
    ctx.obj = App(config)


def _register() -> None:
    from mailer.cli import (
        bounces,
        campaigns,
        demo,
        doctor,
        issues,
        lists,
        sending,
        setup,
        subscribers,
        worker,
    )

    for module in (
        setup,
        demo,
        lists,
        subscribers,
        issues,
        sending,
        campaigns,
        bounces,
        doctor,
        worker,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)
    from mailer.cli import stored_issues, users

    for command in users.COMMANDS:
        cli.add_command(command)
    for command in stored_issues.COMMANDS:
        issues.group.add_command(command)


_register()


def main() -> None:
    cli(prog_name="mailer")
