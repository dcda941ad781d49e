"""Delivering in the foreground (`send --wait`, `campaigns resume --wait`, the demo)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click

from mailer.campaigns.models import CampaignStatus
from mailer.campaigns.report import Report, report
from mailer.cli.context import App, print_json
from mailer.cli.progress import send_progress
from mailer.cli.times import local_time
from mailer.db import session_scope
from mailer.delivery.engine import smtp_engine
from mailer.delivery.processes import run_everywhere
from subscribers.models import utcnow


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


def wait_until(when: datetime) -> bool:
    """Sleep until ``when`` (a scheduled start); False when a signal cut it short."""
    delay = (when - utcnow()).total_seconds()
    if delay <= 0:
        return True
    click.echo(f"Waiting {delay:.0f} s until the scheduled time…", err=True)
    with stop_on_signals() as stop:
        return not stop.wait(delay)


def deliver_in_foreground(a: App, campaign_id: int) -> Report:
    """Send now, showing progress; returns the final report.

    With a broker (MAILER_BROKER_URL) the `mailer worker`s deliver: this
    enqueues the campaign's chunks and watches it to the end instead.
    """
    if a.settings.broker_url:
        return watch_workers(a, campaign_id)
    engine = smtp_engine(a.engine, a.settings)
    result: dict[str, object] = {}
    with stop_on_signals() as stop:

        def work() -> None:
            try:
                # MAILER_PROCESSES: helper processes beside this one.
                result["status"] = run_everywhere(engine, a.settings, campaign_id, stop)
            except Exception as exc:
                result["error"] = exc

        thread = threading.Thread(target=work, name="deliver", daemon=True)
        thread.start()
        with send_progress(a) as show:
            while thread.is_alive():
                with session_scope(a.engine) as s:
                    show(report(s, campaign_id))
                thread.join(0.25)
            with session_scope(a.engine) as s:
                final = report(s, campaign_id)
            show(final)
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return final


def watch_workers(a: App, campaign_id: int) -> Report:
    """Enqueue the campaign's chunks for the Celery workers, and show it until it ends."""
    from mailer.workers.dispatch import CeleryDispatcher

    dispatch = CeleryDispatcher(a.engine, a.settings)
    click.echo(
        "Delivering on the Celery workers (`mailer worker`); Ctrl-C stops watching, "
        "not the campaign.",
        err=True,
    )
    told = False
    with stop_on_signals() as stop, send_progress(a) as show:
        while True:
            if not told and not _any_worker(dispatch.client):
                click.echo(
                    "No `mailer worker` is running yet: the campaign waits for one "
                    "(start one with `mailer worker`).",
                    err=True,
                )
                told = True
            # Enqueues due chunks (again, for rows of dead workers or retries now
            # due) and marks the campaign finished once nothing is left.
            dispatch(campaign_id)
            with session_scope(a.engine) as s:
                current = report(s, campaign_id)
            show(current)
            if current.status != CampaignStatus.SENDING or stop.wait(1.0):
                break
    if current.status == CampaignStatus.SENDING:
        click.echo(
            f"Stopped watching; the workers go on. `mailer campaigns status {campaign_id}` "
            f"shows where it is, `mailer campaigns pause {campaign_id}` pauses it.",
            err=True,
        )
    return current


def _any_worker(client: object) -> bool:
    """Whether a worker beats; True when Redis cannot say (the dispatcher warns of that)."""
    import redis

    from mailer.workers import coordination

    try:
        return bool(coordination.live_workers(client))  # type: ignore[arg-type]
    except redis.RedisError:
        return True


def print_report(r: Report, as_json: bool, full: bool = False, zone: str = "UTC") -> None:
    if as_json:  # one report everywhere: send --wait, resume --wait, campaigns status
        print_json(r.as_dict())
        return
    c = r.counts
    click.echo(f"Campaign {r.campaign} ({r.slug} → {r.list_slug}): {r.state}")
    click.echo(
        f"  recipients {r.recipients}: sent {c['sent']}, failed {c['failed']} "
        f"({r.blocked} blocked), deferred {c['deferred']}, skipped {c['skipped']}, "
        f"queued {c['queued']}, sending {c['sending']}; in doubt {r.in_doubt}"
    )
    if r.pause_reason:
        click.echo(f"  fix the cause, then: mailer campaigns resume {r.campaign}")
    if full:
        click.echo(
            f"  scheduled {local_time(r.scheduled_at, zone)}; rate "
            f"{r.rate:.1f}/s over the last minute"
        )
        b = r.bounces
        click.echo(
            f"  bounces: {b.get('hard', 0)} hard, {b.get('soft', 0)} soft, "
            f"{b.get('complaint', 0)} complaints; unsubscribed since: {r.unsubscribed}"
        )
        for email in r.in_doubt_recipients:
            click.echo(f"  in doubt: {email}")


def exit_code(r: Report) -> int:
    pending = r.counts["queued"] + r.counts["deferred"] + r.counts["sending"]
    return 0 if r.status == CampaignStatus.FINISHED and pending == 0 else 1
