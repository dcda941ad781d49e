"""One chunk of a campaign: the delivery engine, limited to ``quota`` rows due now.

A Celery task runs this; it is the engine of `mailer run` (claim a batch of
due ledger rows under a lease, send, record) with a store that stops claiming
after ``quota`` rows and ends the run when nothing is due right now, instead
of waiting for retries due later (the scheduler enqueues those when they
come due). Running a chunk twice is harmless: the lease decides who sends a
row, and a chunk that finds nothing due ends at once.

A watcher thread reads the campaign's status every half second and stops the
engine between two messages when it is no longer sending, so pause and
cancel reach every worker within a second or so.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import Engine

from mailer.campaigns.models import CampaignStatus
from mailer.delivery.claimed import Claimed
from mailer.delivery.engine import DeliveryEngine, envelope_sender
from mailer.delivery.ratelimit import TokenBucket
from mailer.delivery.store import DeliveryStore
from mailer.metrics import CountingStore
from mailer.settings import Settings
from mailer.transport.smtp import SmtpConnection, smtp_config
from mailer.workers import coordination
from subscribers.models import utcnow

log = logging.getLogger(__name__)

SOON = timedelta(seconds=1)  # a retry due within this is waited for, not left to the scheduler
WATCH_SECONDS = 0.5


class ChunkStore(CountingStore):
    """The engine's store, claiming at most ``quota`` rows and only rows due now."""

    def __init__(self, engine: Engine, quota: int) -> None:
        super().__init__(engine)
        self.left = quota
        self._lock = threading.Lock()

    def claim(
        self, campaign_id: int, owner: str, limit: int, now: datetime, lease: timedelta
    ) -> list[Claimed]:
        with self._lock:
            take = min(limit, self.left)
            self.left -= take
        if take <= 0:
            return []
        rows = super().claim(campaign_id, owner, take, now, lease)
        with self._lock:
            self.left += take - len(rows)
        return rows

    def next_due(self, campaign_id: int) -> tuple[int, datetime | None]:
        pending, earliest = super().next_due(campaign_id)
        if self.left <= 0 or earliest is None or earliest > utcnow() + SOON:
            return 0, earliest  # this chunk is done; pending rows are someone else's
        return pending, earliest


@dataclass
class ChunkResult:
    campaign: int
    sent_or_tried: int
    status: str


def chunk_engine(
    db: Engine, settings: Settings, quota: int, client: redis.Redis | None
) -> DeliveryEngine:
    """The engine as `mailer run` builds it, with the chunk's store and the shared limit."""
    config = smtp_config(settings)
    limiter: TokenBucket | None = None
    if client is not None and settings.rate_limit > 0:
        limiter = coordination.RedisTokenBucket(client, settings.rate_limit)
    engine = DeliveryEngine(
        db,
        settings,
        lambda: SmtpConnection(config),
        envelope_from=envelope_sender(settings),
        limiter=limiter,
    )
    engine.store = ChunkStore(db, quota)
    return engine


def run_chunk(
    db: Engine,
    settings: Settings,
    campaign_id: int,
    quota: int,
    client: redis.Redis | None,
    halt: threading.Event | None = None,
) -> ChunkResult:
    """Deliver up to ``quota`` due rows of the campaign; ``halt`` stops between messages."""
    engine = chunk_engine(db, settings, quota, client)
    store = engine.store
    assert isinstance(store, ChunkStore)
    if client is not None:
        # A worker on another machine that stopped beating holds no lease worth waiting for.
        store.recover(campaign_id, utcnow(), dead=coordination.dead_owner(client))
    stop = threading.Event()
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch,
        args=(store, campaign_id, client, stop, done, halt),
        name=f"watch-{campaign_id}",
        daemon=True,
    )
    watcher.start()
    try:
        status = engine.run(campaign_id, stop)
    finally:
        done.set()
        watcher.join()
    return ChunkResult(campaign_id, quota - store.left, status)


def _watch(
    store: DeliveryStore,
    campaign_id: int,
    client: redis.Redis | None,
    stop: threading.Event,
    done: threading.Event,
    halt: threading.Event | None,
) -> None:
    while not done.wait(WATCH_SECONDS):
        if halt is not None and halt.is_set():
            stop.set()
            return
        try:
            status = store.campaign_status(campaign_id)
        except Exception:
            log.warning("campaign %d: status not readable; trying again", campaign_id)
            continue
        if status != CampaignStatus.SENDING:
            log.info("campaign %d is %s: this worker stops sending it", campaign_id, status)
            stop.set()
            if client is not None:
                _quietly(coordination.drop_dispatch, client, campaign_id)
            return
        if client is not None:
            _quietly(coordination.keep_dispatch, client, campaign_id)


def _quietly(action: object, client: redis.Redis, campaign_id: int) -> None:
    try:
        action(client, campaign_id)  # type: ignore[operator]
    except redis.RedisError as exc:
        log.warning("Redis unavailable (%s); the dispatch mark may lapse", type(exc).__name__)
