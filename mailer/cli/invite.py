"""`mailer subscribers invite`: confirmation emails for unconfirmed subscribers."""

from __future__ import annotations

import click

from mailer.cli.context import app, print_json
from mailer.outbox.invite import invite as queue_invitations


@click.command("invite")
@click.argument("emails", nargs=-1)
@click.option("--list", "list_slug", required=True, help="The list to confirm.")
@click.option("--all-unconfirmed", is_flag=True, help="Everyone unconfirmed on the list.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def invite(
    ctx: click.Context,
    emails: tuple[str, ...],
    list_slug: str,
    all_unconfirmed: bool,
    as_json: bool,
) -> None:
    """Send confirmation emails to unconfirmed subscribers of a list.

    Give the addresses, or --all-unconfirmed. The emails go through the
    confirmation outbox: `mailer run` (or `mailer web`) sends them, and
    retries while the SMTP server is down. Someone with a confirmation
    already on its way, or suppressed, is skipped.

    \b
    Example:
      mailer subscribers invite --list lmec-news --all-unconfirmed
      mailer subscribers invite --list lmec-news li.wei@example.org
    """
    if bool(emails) == all_unconfirmed:
        raise click.UsageError("give the addresses to invite, or --all-unconfirmed (not both)")
    with app(ctx).session() as s:
        report = queue_invitations(s, list_slug, emails, all_unconfirmed)
    if as_json:
        print_json(report.as_dict())
        return
    click.echo(
        f"Queued {report.queued} confirmation email{'s' if report.queued != 1 else ''} "
        f"for {list_slug!r}; `mailer run` (or `mailer web`) sends them."
    )
    for email, why in report.skipped:
        click.echo(f"  skipped {email}: {why}")


def invite_hint(list_slug: str, count: int, one: str = "") -> str:
    """What to do about subscribers left unconfirmed (nothing was sent to them)."""
    target = one or "--all-unconfirmed"
    return (
        f"{count} unconfirmed: no email was sent. "
        f"`mailer subscribers invite --list {list_slug} {target}` sends them a confirmation."
    )
