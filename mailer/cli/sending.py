"""`mailer send`, `mailer run` and `mailer web`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from mailer.campaigns import service as campaigns
from mailer.campaigns.models import CampaignStatus
from mailer.cli.context import App, app, echo_notes, print_json
from mailer.cli.foreground import (
    deliver_in_foreground,
    exit_code,
    print_report,
    stop_on_signals,
    wait_until,
)
from mailer.cli.times import both_zones
from mailer.compose import compose
from mailer.content import load_issue_set
from mailer.delivery.engine import smtp_engine
from mailer.logs import configure_logging
from mailer.metrics import CountingStore
from mailer.scheduler.runner import Runner, schedule_campaign
from mailer.web.server import WebServer, serve
from subscribers.lists import get_list
from subscribers.models import utcnow

# `--at` has minutes; a time within the last minute is "now", not a mistake.
PAST_SLACK = timedelta(minutes=1)


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


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--list", "list_slug", required=True, help="The list to send to.")
@click.option("--at", "at", help="When, e.g. '2026-12-01 09:00' (in --tz).")
@click.option("--tz", default=None, help="Time zone of --at (default: the timezone setting).")
@click.option("--now", is_flag=True, help="Start now.")
@click.option("--wait", is_flag=True, help="Deliver in the foreground and report when done.")
@click.option(
    "--force",
    is_flag=True,
    help="Send even if this issue already went to this list, or `mailer doctor` finds an error.",
)
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
    zone = tz or a.settings.timezone
    when = utcnow() if now else parse_when(at or "", zone)
    if not now and when < utcnow() - PAST_SLACK:
        if not force:
            raise click.BadParameter(
                f"{at!r} is {both_zones(when, zone)}, which is in the past; "
                "give a later time, --now, or --force to send it now",
                param_hint="--at",
            )
        click.echo(f"{both_zones(when, zone)} is in the past: starting now.", err=True)
        when = utcnow()
    issues = load_issue_set(file)
    echo_notes(issues.notes)
    with a.session() as s:
        ml = get_list(s, list_slug)
        compose(issues, a.settings, ml, "check")  # every template error, before scheduling
        forced = _doctor_gate(a, force)
        campaign = campaigns.create_campaign(
            s, issues, list_slug, when, force=force, forced_errors=forced
        )
        cid = campaign.id
    if not wait:
        schedule_campaign(a.engine, a.settings, cid, when)
        if as_json:
            print_json({"campaign": cid, "status": "scheduled", "scheduled_at": when.isoformat()})
        elif now:
            click.echo(f"Campaign {cid} starting now; `mailer run` sends it.")
        else:
            click.echo(
                f"Campaign {cid} scheduled for {both_zones(when, zone)}; `mailer run` sends it."
            )
        return
    if not wait_until(when):
        ctx.exit(1)
    with a.session() as s:
        c = campaigns.get_campaign(s, cid)
        if c.status == CampaignStatus.SCHEDULED:
            campaigns.start_campaign(s, c)
    final = deliver_in_foreground(a, cid)
    print_report(final, as_json, zone=a.settings.timezone)
    ctx.exit(exit_code(final))


def _doctor_gate(a: App, force: bool) -> str | None:
    """Refuse (exit 1) when `mailer doctor` finds an error; with --force, what it overrode."""
    from mailer.doctor.run import gate  # dnspython: loaded only when sending

    report, refusal = gate(a.settings, force)
    if refusal:
        raise click.ClickException(refusal)
    if report.local and report.warnings and a.interactive:
        click.echo(
            f"local test set-up (base_url on loopback): {len(report.warnings)} deliverability "
            "warning(s), see `mailer doctor`",
            err=True,
        )
    if not force:
        return None
    for f in report.errors:
        click.echo(f"warning: sending despite {f.check}: {f.message} (--force)", err=True)
    return "; ".join(f"{f.check}: {f.message}" for f in report.errors)


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
    a = app(ctx)
    configure_logging(a.settings)
    with a.session():
        pass  # checks the database is ready before anything starts
    dispatch = None
    if a.settings.broker_url:
        from mailer.workers.dispatch import CeleryDispatcher

        dispatch = CeleryDispatcher(a.engine, a.settings)  # `mailer worker`s deliver
    engine = smtp_engine(a.engine, a.settings)
    engine.store = CountingStore(a.engine)  # outcomes counted for /metrics
    # The SMTP engine of the settings, counting outcomes for /metrics; helper
    # processes (MAILER_PROCESSES) run the same engine and count their own.
    runner = Runner(
        a.engine, a.settings, engine=engine, dispatch=dispatch, processes=a.settings.processes
    )
    web_server = None if no_web else WebServer(a.settings, a.engine)
    with stop_on_signals() as stop:
        runner.start()
        where = ""
        if web_server is not None:
            web_server.start()
            where = f"; web on http://{a.settings.web_host}:{a.settings.web_port}"
        click.echo(
            f"mailer run: delivering via {a.settings.smtp_host}:{a.settings.smtp_port}"
            f"{' on Celery workers (mailer worker)' if dispatch else ''}"
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
    configure_logging(a.settings)
    with a.session():
        pass  # the database must be ready before serving
    serve(a.settings)


COMMANDS = [send, run, web]
