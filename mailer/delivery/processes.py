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
on their own if the caller disappears. What a helper records is reported
back over a pipe, tallied twice a second, and counted by the caller's store
(its /metrics). With
a ``rate_limit`` (a token bucket in each process) delivery stays in one
process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from sqlalchemy import Engine

from mailer.bounces.policy import Policy
from mailer.db import make_engine
from mailer.delivery.engine import DeliveryEngine, smtp_engine
from mailer.delivery.outcomes import Outcome
from mailer.delivery.store import DeliveryStore
from mailer.settings import Settings

log = logging.getLogger(__name__)

# What a helper recorded since its last report: (campaign id, [(status, SMTP code, count)]).
Report = tuple[int, list[tuple[str, int | None, int]]]

JOIN_SECONDS = 60.0  # after the caller's run ends, helpers get this long to finish theirs
# How stale the caller's counters of a helper's outcomes may get. A report
# per commit woke the caller (itself delivering) once a message, for counters.
REPORT_SECONDS = 0.5


def _watch_parent(parent: int, stop: threading.Event, tick: Callable[[], None]) -> None:
    while not stop.wait(REPORT_SECONDS):
        tick()
        if os.getppid() != parent:  # the caller is gone: finish what is in flight, stop
            stop.set()


class ReportingStore(DeliveryStore):
    """A helper's store: what it records is reported to the caller, who counts it (/metrics).

    Counted here and sent at most every REPORT_SECONDS (``flush``), and once
    more when the helper ends: a helper killed outright takes the counts of
    its last half second with it; the ledger has those outcomes all the same.
    """

    def __init__(self, engine: Engine, policy: Policy, outbox: Connection) -> None:
        super().__init__(engine, policy)
        self.outbox = outbox
        self._lock = threading.Lock()  # a pipe end is not safe for two threads at once
        self._counts: Counter[tuple[int, str, int | None]] = Counter()
        self._reported = time.monotonic()

    def recorded(self, campaign_id: int, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        with self._lock:
            for o in outcomes:
                self._counts[(campaign_id, str(o.status), o.code)] += 1
            if time.monotonic() - self._reported >= REPORT_SECONDS:
                self._send()

    def flush(self) -> None:
        """Report what was counted since the last report, if anything."""
        with self._lock:
            self._send()

    def _send(self) -> None:
        self._reported = time.monotonic()
        by_campaign: dict[int, list[tuple[str, int | None, int]]] = {}
        for (cid, status, code), count in self._counts.items():
            by_campaign.setdefault(cid, []).append((status, code, count))
        self._counts.clear()
        try:
            for report in by_campaign.items():
                self.outbox.send(report)
        except OSError:  # the caller is gone: the ledger has it, only its counters miss it
            log.debug("reporting outcomes to the caller failed", exc_info=True)


def _helper(settings: Settings, campaign_id: int, parent: int, outbox: Connection) -> None:
    """A helper process: the same engine on the same campaign until it is done or stopped."""
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    db = make_engine(settings.database_url)
    try:
        engine = smtp_engine(db, settings)
        store = ReportingStore(db, engine.store.policy, outbox)
        engine.store = store
        threading.Thread(
            target=_watch_parent, args=(parent, stop, store.flush), daemon=True
        ).start()
        try:
            engine.run(campaign_id, stop)
        finally:
            store.flush()
    finally:
        db.dispose()


def _tally(readers: list[Connection], store: DeliveryStore) -> None:
    """The caller's side: each helper's outcomes, counted as if recorded here.

    One pipe per helper, so a helper killed in the middle of a report (kill -9)
    spoils only its own pipe: its end reads as closed, and the others go on.
    """
    while readers:
        for r in wait(readers):
            assert isinstance(r, Connection)
            try:
                campaign_id, outcomes = r.recv()
            except (EOFError, OSError, ValueError, pickle.UnpicklingError):
                readers.remove(r)  # that helper has ended (or died mid-report)
                r.close()
                continue
            store.recorded_elsewhere(campaign_id, outcomes)


def start_helpers(
    settings: Settings, campaign_id: int, count: int
) -> tuple[list[BaseProcess], list[Connection]]:
    """The helper processes, and the read end of each one's report pipe."""
    ctx = multiprocessing.get_context("spawn")
    helpers: list[BaseProcess] = []
    readers: list[Connection] = []
    for i in range(count):
        reader, writer = ctx.Pipe(duplex=False)
        p = ctx.Process(
            target=_helper,
            args=(settings, campaign_id, os.getpid(), writer),
            name=f"deliver-{campaign_id}-p{i + 1}",
            daemon=True,
        )
        p.start()
        writer.close()  # the helper has its own: its death closes the pipe
        helpers.append(p)
        readers.append(reader)
    return helpers, readers


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
    helpers, readers = start_helpers(settings, campaign_id, count)
    tally = threading.Thread(target=_tally, args=(readers, engine.store), daemon=True)
    tally.start()
    finished = False
    try:
        status = engine.run(campaign_id, stop)
        finished = True
    finally:
        stop_helpers(helpers, now=stop.is_set() or not finished)
        tally.join(JOIN_SECONDS)  # ends when every helper's pipe has closed
    return status
