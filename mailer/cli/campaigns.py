"""`mailer campaigns …`: list, status, pause, resume, cancel."""

from __future__ import annotations

import shutil
from datetime import datetime

import click

from mailer.campaigns import service as campaigns
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.campaigns.preflight import DoctorRefused, resume_checked
from mailer.campaigns.report import failures as report_failures
from mailer.campaigns.report import list_campaigns, report
from mailer.cli.context import app, print_json
from mailer.cli.foreground import deliver_in_foreground, exit_code, print_report, wait_until
from mailer.cli.times import local_time


@click.group("campaigns")
def group() -> None:
    """Campaigns: list, status, failures, pause, resume, cancel.

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
    # One line per campaign in the terminal's width (80 columns fit): the
    # subject comes last and is cut short with an ellipsis, never the status.
    width = shutil.get_terminal_size((80, 24)).columns
    zone = app(ctx).settings.timezone
    heads = ("id", "status", "scheduled", "sent", "failed", "list", "subject")
    click.echo(_line(heads, width))
    for r in reports:
        cells = (
            str(r.campaign),
            r.status,
            local_time(r.scheduled_at, zone),
            f"{r.counts['sent']}/{r.recipients}",
            str(r.counts["failed"]),
            r.list_slug,
            r.subject,
        )
        click.echo(_line(cells, width))


def _line(cells: tuple[str, ...], width: int) -> str:
    cid, status, when, sent, failed, slug, subject = cells
    # The time carries its offset (23 columns): single spaces keep 80 columns.
    slug = slug if len(slug) <= 12 else slug[:11] + "…"
    head = f"{cid:>4} {status:<9} {when:<23} {sent:>9} {failed:>6} {slug:<12} "
    room = max(width - len(head) - 1, 8)
    return head + (subject if len(subject) <= room else subject[: room - 1] + "…")


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
    zone = app(ctx).settings.timezone
    with app(ctx).session() as s:
        r = report(s, campaign_id)
    print_report(r, as_json, full=True, zone=zone)
    forced = r.forced_errors
    if forced is not None and not as_json:
        when = local_time(datetime.fromisoformat(forced["at"]), zone) if forced["at"] else "?"
        click.echo(
            f"  sent with --force past `mailer doctor` ({when}, by {forced['by'] or '?'}): "
            + (forced["errors"] or "no error then")
        )


@group.command("failures")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def failures(ctx: click.Context, campaign_id: int, as_json: bool) -> None:
    """Who did not get it, or may have got it twice: failed, deferred, in doubt.

    Each with the server's reply, how it was graded (hard, soft, block,
    fail, error) and the number of attempts.

    \b
    Example:
      mailer campaigns failures 3 --json
    """
    with app(ctx).session() as s:
        found = report_failures(s, campaign_id)
    if as_json:
        print_json([f.as_dict() for f in found])
        return
    if not found:
        click.echo(f"Campaign {campaign_id}: no failed, deferred or in-doubt recipients.")
        return
    for f in found:
        kind = f"{f.status} ({f.failure})" if f.failure else f.status
        doubt = ", in doubt" if f.in_doubt else ""
        tries = f"{f.attempts} attempt{'s' if f.attempts != 1 else ''}"
        reply = f"{f.code or ''} {f.reply or ''}".strip() or "-"
        click.echo(f"{f.email}  {kind}{doubt}, {tries}: {reply}")


@group.command("pause")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the campaign's state as JSON.")
@click.pass_context
def pause(ctx: click.Context, campaign_id: int, as_json: bool) -> None:
    """Stop sending after the messages in flight; `resume` continues.

    \b
    Example:
      mailer campaigns pause 3
    """
    with app(ctx).session() as s:
        c = campaigns.pause(s, campaign_id)
        state = _state(c)
    if as_json:
        print_json(state)
    else:
        click.echo(f"Campaign {campaign_id} paused.")


@group.command("resume")
@click.argument("campaign_id", type=int)
@click.option("--wait", is_flag=True, help="Deliver in the foreground until done.")
@click.option(
    "--force",
    is_flag=True,
    help="Resume even if `mailer doctor` finds an error (recorded on the campaign).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the state (with --wait: the report).")
@click.pass_context
def resume(ctx: click.Context, campaign_id: int, wait: bool, force: bool, as_json: bool) -> None:
    """Continue a paused or missed campaign (only those not yet sent get it).

    Like `send`, it runs `mailer doctor` first and refuses on an error
    unless --force (a campaign already sent with --force is not checked again).

    \b
    Example:
      mailer campaigns resume 3 --wait
    """
    a = app(ctx)
    with a.session() as s:
        try:
            c = resume_checked(s, a.settings, campaign_id, force=force, foreground=wait)
        except DoctorRefused as exc:
            raise click.ClickException(
                f"{exc}\nRun `mailer doctor` for the fixes, or add --force to resume anyway "
                "(recorded on the campaign)."
            ) from None
        if force and c.forced_errors:
            click.echo(f"warning: resumed despite {c.forced_errors} (--force)", err=True)
        state, scheduled_at = c.status, c.scheduled_at
    if not wait:
        if as_json:
            print_json(_state(c))
        elif state == CampaignStatus.SCHEDULED:
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
    print_report(final, as_json, zone=a.settings.timezone)
    ctx.exit(exit_code(final))


@group.command("cancel")
@click.argument("campaign_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the campaign's state as JSON.")
@click.pass_context
def cancel(ctx: click.Context, campaign_id: int, yes: bool, as_json: bool) -> None:
    """Cancel a campaign: nobody else gets it (those already sent stay sent).

    \b
    Example:
      mailer campaigns cancel 3 --yes
    """
    if not yes:
        with app(ctx).session() as s:  # an unknown id is an error before any question
            campaigns.get_campaign(s, campaign_id)
        # A "no" (or no terminal to answer) is an error like any other, so that
        # under --json a script still reads a JSON object on stdout.
        try:
            agreed = click.confirm(f"Cancel campaign {campaign_id}?", err=True)
        except click.Abort:
            agreed = False
        if not agreed:
            raise click.ClickException(f"campaign {campaign_id} was not cancelled (give --yes)")
    with app(ctx).session() as s:
        state = _state(campaigns.cancel(s, campaign_id))
    if as_json:
        print_json(state)
    else:
        click.echo(f"Campaign {campaign_id} cancelled.")


def _state(c: Campaign) -> dict[str, object]:
    return {
        "campaign": c.id,
        "status": c.status,
        "scheduled_at": c.scheduled_at.isoformat(),
        "pause_reason": c.pause_reason,
    }


COMMANDS = [group]
