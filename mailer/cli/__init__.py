"""The `mailer` command: a thin layer over the service functions.

Every command's help carries an example (a test holds every command to it).
Errors a user can cause are printed as one clear message with exit code 1;
usage errors exit 2 (click's own).
"""

from __future__ import annotations

from typing import Any

import click

from mailer import __version__
from mailer.cli.context import App
from mailer.errors import MailerError
from subscribers.errors import SubscribersError


class MailerGroup(click.Group):
    """The top group: turns the service's own errors into a message and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (MailerError, SubscribersError) as exc:
            raise click.ClickException(str(exc)) from None


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
        issues,
        lists,
        sending,
        setup,
        subscribers,
        worker,
    )

    for module in (setup, demo, lists, subscribers, issues, sending, campaigns, bounces, worker):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="mailer")
