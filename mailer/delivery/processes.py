"""Delivery in several processes, so that every core works.

Under the GIL, one process's delivery threads share one core; building and
signing messages is CPU work. With ``processes`` (MAILER_PROCESSES, default
the number of cores) above 1, the caller's own engine runs as before and
``processes - 1`` helper processes run the same engine on the same campaign.
They coordinate through the ledger only: leases decide who sends a row, so
nobody gets a message twice, and a helper that dies is recognised as dead
(owners.py) and its rows are taken back by the others (engine.py).

Helpers are started with ``spawn`` (a fork of a process with threads and
open database connections is not safe), stop when the caller is stopped
(SIGTERM to each: the message in flight finishes and is recorded) and stop
on their own if the caller disappears. With a ``rate_limit`` (a token bucket
in each process) delivery stays in one process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.process import BaseProcess

from mailer.db import make_engine
from mailer.delivery.engine import DeliveryEngine, smtp_engine
from mailer.settings import Settings

log = logging.getLogger(__name__)

JOIN_SECONDS = 60.0  # after the caller's run ends, helpers get this long to finish theirs


def _watch_parent(parent: int, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        if os.getppid() != parent:  # the caller is gone: finish what is in flight, stop
            stop.set()


def _helper(settings: Settings, campaign_id: int, parent: int) -> None:
    """A helper process: the same engine on the same campaign until it is done or stopped."""
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True).start()
    db = make_engine(settings.database_url)
    try:
        smtp_engine(db, settings).run(campaign_id, stop)
    finally:
        db.dispose()


def start_helpers(settings: Settings, campaign_id: int, count: int) -> list[BaseProcess]:
    ctx = multiprocessing.get_context("spawn")
    helpers: list[BaseProcess] = [
        ctx.Process(
            target=_helper,
            args=(settings, campaign_id, os.getpid()),
            name=f"deliver-{campaign_id}-p{i + 1}",
            daemon=True,
        )
        for i in range(count)
    ]
    for p in helpers:
        p.start()
    return helpers


def stop_helpers(helpers: list[BaseProcess], now: bool) -> None:
    """Wait for helpers to finish their run (``now``: ask them to stop first)."""
    if now:
        for p in helpers:
            if p.is_alive():
                p.terminate()  # SIGTERM: their stop event
    for p in helpers:
        p.join(JOIN_SECONDS)
        if p.is_alive():
            log.warning("delivery helper %s did not stop; killing it", p.name)
            p.kill()
            p.join()
        elif p.exitcode:
            log.warning("delivery helper %s ended with exit code %s", p.name, p.exitcode)


def run_everywhere(
    engine: DeliveryEngine, settings: Settings, campaign_id: int, stop: threading.Event
) -> str:
    """``engine.run`` here, plus ``settings.processes - 1`` helper processes; the status."""
    # A rate limit is a token bucket per process: with one, the limit is what
    # bounds the speed, so one process keeps it exact.
    count = 0 if settings.rate_limit else settings.processes - 1
    if count < 1:
        return engine.run(campaign_id, stop)
    helpers = start_helpers(settings, campaign_id, count)
    finished = False
    try:
        status = engine.run(campaign_id, stop)
        finished = True
    finally:
        stop_helpers(helpers, now=stop.is_set() or not finished)
    return status
