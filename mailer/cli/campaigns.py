"""`mailer campaigns …`: list, status, pause, resume, cancel."""

from __future__ import annotations

import click
from rich.table import Table

from mailer.campaigns import service as campaigns
from mailer.campaigns.models import CampaignStatus
from mailer.campaigns.report import list_campaigns, report
from mailer.cli.context import app, print_json
from mailer.cli.foreground import deliver_in_foreground, exit_code, print_report, wait_until


@click.group("campaigns")
def group() -> None:
    """Campaigns: list, status, pause, resume, cancel.

    \b
    Example:
      mailer campaigns status 3 --json
    """


@group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ls(ctx: click.Context, as_json: bool) -> None:
    """List campaigns, newest first, with their counts.

    \b
    Example:
      mailer campaigns ls
    """
    with app(ctx).session() as s:
        reports = list_campaigns(s)
    if as_json:
        print_json([r.as_dict() for r in reports])
        return
    if not reports:
        click.echo("No campaigns yet. Schedule one: mailer send FILE --list L --at WHEN")
        return
    table = Table(
        "id",
        "issue",
        "list",
        "status",
        "scheduled (UTC)",
        "recipients",
        "sent",
        "failed",
        "deferred",
        "skipped",
    )
    for r in reports:
        c = r.counts
        table.add_row(
            str(r.campaign),
            r.slug,
            r.list_slug,
            r.status,
            f"{r.scheduled_at:%Y-%m-%d %H:%M}",
            str(r.recipients),
            str(c["sent"]),
            str(c["failed"]),
            str(c["deferred"]),
            str(c["skipped"]),
        )
    app(ctx).out.print(table)


@group.command("status")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, campaign_id: int, as_json: bool) -> None:
    """Counts from the delivery ledger, the send rate, and who is in doubt.

    \b
    Example:
      mailer campaigns status 3
    """
    with app(ctx).session() as s:
        r = report(s, campaign_id)
    print_report(r, as_json, full=True)


@group.command("pause")
@click.argument("campaign_id", type=int)
@click.pass_context
def pause(ctx: click.Context, campaign_id: int) -> None:
    """Stop sending after the messages in flight; `resume` continues.

    \b
    Example:
      mailer campaigns pause 3
    """
    with app(ctx).session() as s:
        campaigns.pause(s, campaign_id)
    click.echo(f"Campaign {campaign_id} paused.")


@group.command("resume")
@click.argument("campaign_id", type=int)
@click.option("--wait", is_flag=True, help="Deliver in the foreground until done.")
@click.option("--json", "as_json", is_flag=True, help="With --wait: print the report as JSON.")
@click.pass_context
def resume(ctx: click.Context, campaign_id: int, wait: bool, as_json: bool) -> None:
    """Continue a paused or missed campaign (only those not yet sent get it).

    \b
    Example:
      mailer campaigns resume 3 --wait
    """
    a = app(ctx)
    with a.session() as s:
        c = campaigns.resume(s, campaign_id)
        state, scheduled_at = c.status, c.scheduled_at
    if not wait:
        if state == CampaignStatus.SCHEDULED:
            click.echo(
                f"Campaign {campaign_id} is scheduled for {scheduled_at:%Y-%m-%d %H:%M} UTC; "
                "`mailer run` starts it then."
            )
        else:
            click.echo(f"Campaign {campaign_id} is {state}; `mailer run` delivers it.")
        return
    if state == CampaignStatus.SCHEDULED:
        # Paused before its time: it keeps that time, so wait for it.
        if not wait_until(scheduled_at):
            ctx.exit(1)
        with a.session() as s:
            c = campaigns.get_campaign(s, campaign_id)
            if c.status == CampaignStatus.SCHEDULED:
                campaigns.start_campaign(s, c)
    final = deliver_in_foreground(a, campaign_id)
    print_report(final, as_json)
    ctx.exit(exit_code(final))


@group.command("cancel")
@click.argument("campaign_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def cancel(ctx: click.Context, campaign_id: int, yes: bool) -> None:
    """Cancel a campaign: nobody else gets it (those already sent stay sent).

    \b
    Example:
      mailer campaigns cancel 3 --yes
    """
    if not yes:
        click.confirm(f"Cancel campaign {campaign_id}?", abort=True, err=True)
    with app(ctx).session() as s:
        campaigns.cancel(s, campaign_id)
    click.echo(f"Campaign {campaign_id} cancelled.")


COMMANDS = [group]
