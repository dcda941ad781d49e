"""Enqueueing a campaign's chunks: what `mailer run` does instead of sending itself.

Called by the scheduler's sweep for every sending campaign, every second.
The dispatch mark in Redis makes that cheap and single: while chunk tasks
run they keep the mark alive, and only when it lapses (all tasks done, a
worker died, the broker lost its queue in a restart) does the sweep look
at the ledger again: requeue the rows of dead workers, count what is due
now, and enqueue one task per chunk of it. Nothing is enqueued while no
worker beats, so a night without workers does not pile up tasks.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

import redis
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import Engine, func, select

from mailer.campaigns.models import Delivery, DeliveryStatus
from mailer.campaigns.service import finish_if_done
from mailer.db import session_scope
from mailer.delivery.store import DeliveryStore
from mailer.settings import Settings, coordination_url
from mailer.workers import coordination
from mailer.workers.app import TASK, make_app
from subscribers.models import utcnow

log = logging.getLogger(__name__)


def due_rows(db: Engine, campaign_id: int, now: datetime) -> int:
    with db.connect() as conn:
        return int(
            conn.scalar(
                select(func.count()).where(
                    Delivery.campaign_id == campaign_id,
                    Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED]),
                    Delivery.next_attempt_at <= now,
                )
            )
            or 0
        )


class CeleryDispatcher:
    def __init__(self, db: Engine, settings: Settings) -> None:
        self.db = db
        self.chunk = settings.chunk_size
        self.app = make_app(settings)
        self.client = coordination.connect(coordination_url(settings))
        self.store = DeliveryStore(db)
        self._warned_no_worker = False

    def __call__(self, campaign_id: int) -> int:
        """Enqueue the campaign's due chunks unless tasks for it are out; returns how many."""
        try:
            return self._dispatch(campaign_id)
        except (redis.RedisError, BrokerError) as exc:
            log.warning(
                "campaign %d: broker or Redis unavailable (%s); trying again at the next sweep",
                campaign_id,
                type(exc).__name__,
            )
            return 0

    def _dispatch(self, campaign_id: int) -> int:
        if not coordination.live_workers(self.client):
            if not self._warned_no_worker:
                log.warning("campaign %d is due but no `mailer worker` is running", campaign_id)
                self._warned_no_worker = True
            return 0
        self._warned_no_worker = False
        if not coordination.claim_dispatch(self.client, campaign_id):
            return 0  # tasks are out there and alive
        now = utcnow()
        requeued = self.store.recover(campaign_id, now, dead=coordination.dead_owner(self.client))
        if requeued:
            log.warning(
                "campaign %d: %d rows of dead workers requeued (in doubt)", campaign_id, requeued
            )
        due = due_rows(self.db, campaign_id, now)
        if due == 0:
            coordination.drop_dispatch(self.client, campaign_id)
            with session_scope(self.db) as s:
                finish_if_done(s, campaign_id)
            return 0
        tasks = math.ceil(due / self.chunk)
        try:
            for _ in range(tasks):
                self.app.send_task(TASK, args=[campaign_id, self.chunk])
        except BaseException:
            coordination.drop_dispatch(self.client, campaign_id)  # try again next sweep
            raise
        log.info("campaign %d: %d rows due, %d chunk tasks enqueued", campaign_id, due, tasks)
        return tasks
