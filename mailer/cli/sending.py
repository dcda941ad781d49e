"""`mailer send`, `mailer campaigns …` and `mailer run`."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rich.table import Table

from mailer.campaigns import service as campaigns
from mailer.campaigns.models import CampaignStatus
from mailer.cli.context import App, app, print_json
from mailer.cli.progress import send_progress
from mailer.compose import compose
from mailer.content import load_issue_set
from mailer.db import session_scope
from mailer.delivery.engine import smtp_engine
from mailer.scheduler.runner import Runner, schedule_campaign
from mailer.web.server import WebServer, serve
from subscribers.lists import get_list
from subscribers.models import utcnow


def parse_when(at: str, tz: str) -> datetime:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{tz!r} is not a time zone such as Asia/Shanghai", param_hint="--tz"
        ) from None
    try:
        when = datetime.fromisoformat(at.strip())
    except ValueError:
        raise click.BadParameter(
            f"{at!r} is not a time such as '2026-12-01 09:00'", param_hint="--at"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(ZoneInfo("UTC"))


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM/SIGINT set the event: the message in flight finishes, then we stop."""
    stop = threading.Event()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    for s in previous:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def deliver_in_foreground(a: App, campaign_id: int) -> campaigns.Report:
    """Send now, showing progress; returns the final report."""
    engine = smtp_engine(a.engine, a.settings)
    result: dict[str, object] = {}
    with stop_on_signals() as stop:

        def work() -> None:
            try:
                result["status"] = engine.run(campaign_id, stop)
            except Exception as exc:
                result["error"] = exc

        thread = threading.Thread(target=work, name="deliver", daemon=True)
        thread.start()
        with send_progress(a) as show:
            while thread.is_alive():
                with session_scope(a.engine) as s:
                    show(campaigns.report(s, campaign_id))
                thread.join(0.25)
            with session_scope(a.engine) as s:
                final = campaigns.report(s, campaign_id)
            show(final)
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return final


def _print_report(r: campaigns.Report, as_json: bool, full: bool = False) -> None:
    if as_json:
        print_json(r.as_dict() if full else r.summary())
        return
    c = r.counts
    click.echo(f"Campaign {r.campaign} ({r.slug} → {r.list_slug}): {r.status}")
    click.echo(
        f"  recipients {r.recipients}: sent {c['sent']}, failed {c['failed']}, "
        f"deferred {c['deferred']}, skipped {c['skipped']}, queued {c['queued']}, "
        f"sending {c['sending']}; in doubt {r.in_doubt}"
    )
    if full:
        click.echo(
            f"  scheduled {r.scheduled_at:%Y-%m-%d %H:%M:%S} UTC; rate "
            f"{r.rate:.1f}/s over the last minute"
        )
        for email in r.in_doubt_recipients:
            click.echo(f"  in doubt: {email}")


def _exit_code(r: campaigns.Report) -> int:
    pending = r.counts["queued"] + r.counts["deferred"] + r.counts["sending"]
    return 0 if r.status == CampaignStatus.FINISHED and pending == 0 else 1


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--list", "list_slug", required=True, help="The list to send to.")
@click.option("--at", "at", help="When, e.g. '2026-12-01 09:00' (in --tz).")
@click.option("--tz", default=None, help="Time zone of --at (default: the timezone setting).")
@click.option("--now", is_flag=True, help="Start now.")
@click.option("--wait", is_flag=True, help="Deliver in the foreground and report when done.")
@click.option("--force", is_flag=True, help="Send even if this issue already went to this list.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def send(
    ctx: click.Context,
    file: Path,
    list_slug: str,
    at: str | None,
    tz: str | None,
    now: bool,
    wait: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Schedule FILE for a list, or send it now.

    The issue is rendered for every language variant first, so a template
    error stops here. With --wait, delivery runs in the foreground with a
    progress bar and the command exits 0 when every recipient was sent or
    definitively failed; otherwise `mailer run` delivers it.

    \b
    Example:
      mailer send examples/issues/lmec-2021-issue-7.md --list lmec-news \\
        --at "2026-12-01 09:00" --tz Asia/Shanghai
    """
    a = app(ctx)
    if now == (at is not None):
        raise click.UsageError("give exactly one of --at WHEN or --now")
    when = utcnow() if now else parse_when(at or "", tz or a.settings.timezone)
    issues = load_issue_set(file)
    with a.session() as s:
        ml = get_list(s, list_slug)
        compose(issues, a.settings, ml, "check")  # every template error, before scheduling
        campaign = campaigns.create_campaign(s, issues, list_slug, when, force=force)
        cid = campaign.id
    if not wait:
        schedule_campaign(a.engine, a.settings, cid, when)
        if as_json:
            print_json({"campaign": cid, "status": "scheduled", "scheduled_at": when.isoformat()})
        else:
            local = when.astimezone(ZoneInfo(tz or a.settings.timezone))
            click.echo(
                f"Campaign {cid} scheduled for {local:%Y-%m-%d %H:%M %Z}; `mailer run` sends it."
            )
        return
    delay = (when - utcnow()).total_seconds()
    if delay > 0:
        click.echo(f"Waiting {delay:.0f} s until the scheduled time…", err=True)
        with stop_on_signals() as stop:
            if stop.wait(delay):
                ctx.exit(1)
    with a.session() as s:
        c = campaigns.get_campaign(s, cid)
        if c.status == CampaignStatus.SCHEDULED:
            campaigns.start_campaign(s, c)
    final = deliver_in_foreground(a, cid)
    _print_report(final, as_json)
    ctx.exit(_exit_code(final))


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
        reports = campaigns.list_campaigns(s)
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
        r = campaigns.report(s, campaign_id)
    _print_report(r, as_json, full=True)


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
        state = c.status
    if not wait:
        click.echo(f"Campaign {campaign_id} is {state}; `mailer run` delivers it.")
        return
    if state == CampaignStatus.SCHEDULED:
        with a.session() as s:
            campaigns.start_campaign(s, campaigns.get_campaign(s, campaign_id))
    final = deliver_in_foreground(a, campaign_id)
    _print_report(final, as_json)
    ctx.exit(_exit_code(final))


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


@click.command()
@click.option("--no-web", is_flag=True, help="Do not serve the subscriber web app.")
@click.pass_context
def run(ctx: click.Context, no_web: bool) -> None:
    """The long-running service: scheduler, delivery workers and the web app.

    Starts campaigns at their time, resumes those that were sending, serves
    the subscriber pages on MAILER_WEB_HOST:MAILER_WEB_PORT, and stops
    cleanly on SIGTERM (messages in flight finish and are recorded).

    \b
    Example:
      MAILER_CONFIG=/etc/mailer.toml mailer run
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    a = app(ctx)
    with a.session():
        pass  # checks the database is ready before anything starts
    runner = Runner(a.engine, a.settings)
    web_server = None if no_web else WebServer(a.settings, a.engine)
    with stop_on_signals() as stop:
        runner.start()
        where = ""
        if web_server is not None:
            web_server.start()
            where = f"; web on http://{a.settings.web_host}:{a.settings.web_port}"
        click.echo(
            f"mailer run: delivering via {a.settings.smtp_host}:{a.settings.smtp_port}"
            f"{where}; Ctrl-C or SIGTERM stops.",
            err=True,
        )
        while not stop.wait(0.5):
            pass
        click.echo("Stopping: finishing messages in flight…", err=True)
        runner.stop()
        if web_server is not None:
            web_server.stop()


@click.command()
@click.pass_context
def web(ctx: click.Context) -> None:
    """Serve only the subscriber web app (subscribe, confirm, unsubscribe, archive).

    \b
    Example:
      MAILER_WEB_HOST=0.0.0.0 MAILER_WEB_PORT=8080 mailer web
    """
    a = app(ctx)
    with a.session():
        pass  # the database must be ready before serving
    serve(a.settings)


COMMANDS = [send, group, run, web]
