"""Prometheus metrics: this process's counters, and the ledger as every scrape finds it.

Counters (messages by outcome, SMTP reply classes, heartbeat) are per process:
each worker serves its own on MAILER_WORKER_METRICS_PORT. The ledger figures
(queue depth and status counts per campaign, the send rate of the last
minute, bounces and complaints, live workers) are read from the database and
Redis at scrape time, so `mailer run` and `mailer web` report the whole
fleet whichever machine does the sending. No address or token is a label.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from mailer.campaigns.models import BounceEvent, Campaign, CampaignStatus, Delivery
from mailer.delivery.outcomes import Outcome
from mailer.delivery.store import DeliveryStore
from subscribers.models import utcnow

MESSAGES = Counter(
    "mailer_messages", "Delivery outcomes recorded by this process", ["outcome", "campaign"]
)
REPLIES = Counter(
    "mailer_smtp_replies", "SMTP replies seen by this process, by class", ["reply_class"]
)
HEARTBEAT = Gauge(
    "mailer_worker_heartbeat_timestamp_seconds", "When this worker last recorded a heartbeat"
)
CHUNKS = Counter("mailer_chunks", "Celery chunk tasks run by this worker", ["result"])

ACTIVE = (CampaignStatus.SENDING, CampaignStatus.PAUSED)
RECENT = timedelta(days=1)


def reply_class(code: int | None) -> str:
    return f"{code // 100}xx" if code and 200 <= code < 600 else "none"


def count_outcomes(campaign_id: int, outcomes: Sequence[Outcome]) -> None:
    count_tallies(campaign_id, [(str(o.status), o.code, 1) for o in outcomes])


def count_tallies(campaign_id: int, tallies: Sequence[tuple[str, int | None, int]]) -> None:
    """(status, SMTP code, how many): a helper process's outcomes since its last report."""
    for status, code, count in tallies:
        MESSAGES.labels(status, str(campaign_id)).inc(count)
        REPLIES.labels(reply_class(code)).inc(count)


class CountingStore(DeliveryStore):
    """The delivery store, counting each recorded outcome into this process's metrics."""

    def recorded(self, campaign_id: int, outcomes: Sequence[Outcome]) -> None:
        # Every recording path ends here (the store's advance, and the folded
        # one-statement path on PostgreSQL), once the outcomes are committed.
        count_outcomes(campaign_id, outcomes)

    def recorded_elsewhere(
        self, campaign_id: int, outcomes: Sequence[tuple[str, int | None, int]]
    ) -> None:
        # A helper process (MAILER_PROCESSES) committed these: this process serves /metrics.
        count_tallies(campaign_id, outcomes)


class LedgerCollector(Collector):
    """Figures read at scrape time from the database (and Redis, when given)."""

    def __init__(self, db: Engine, workers: object | None = None) -> None:
        self.db = db
        self.workers = workers  # a callable returning {worker: last beat}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        depth = GaugeMetricFamily(
            "mailer_ledger_queue_depth",
            "Ledger rows not final yet (queued, deferred, sending) per campaign",
            labels=["campaign"],
        )
        rows = GaugeMetricFamily(
            "mailer_ledger_rows",
            "Ledger rows per campaign and status",
            labels=["campaign", "status"],
        )
        with self.db.connect() as conn:
            campaigns = conn.execute(
                select(Campaign.id).where(
                    (Campaign.status.in_(ACTIVE))
                    | (Campaign.finished_at >= now - RECENT)
                    | (Campaign.started_at >= now - RECENT)
                )
            ).scalars()
            ids = list(campaigns)
            counts: dict[int, dict[str, int]] = {i: {} for i in ids}
            if ids:
                for cid, status, n in conn.execute(
                    select(Delivery.campaign_id, Delivery.status, func.count())
                    .where(Delivery.campaign_id.in_(ids))
                    .group_by(Delivery.campaign_id, Delivery.status)
                ):
                    counts[cid][status] = n
            sent_last_minute = conn.scalar(
                select(func.count()).where(Delivery.sent_at >= now - timedelta(minutes=1))
            )
            bounces = conn.execute(
                select(BounceEvent.kind, func.count()).group_by(BounceEvent.kind)
            ).all()
        for cid, by_status in counts.items():
            pending = sum(by_status.get(s, 0) for s in ("queued", "deferred", "sending"))
            depth.add_metric([str(cid)], pending)
            for status, n in by_status.items():
                rows.add_metric([str(cid), status], n)
        yield depth
        yield rows
        rate = GaugeMetricFamily(
            "mailer_send_rate", "Messages sent per second over the last minute, all workers"
        )
        rate.add_metric([], (sent_last_minute or 0) / 60.0)
        yield rate
        kinds = GaugeMetricFamily(
            "mailer_bounce_events",
            "Bounce events recorded, by kind (complaint included)",
            labels=["kind"],
        )
        for kind, n in bounces:
            kinds.add_metric([kind], n)
        yield kinds
        yield from self._workers()

    def _workers(self) -> Iterable[GaugeMetricFamily]:
        if not callable(self.workers):
            return
        try:
            beats: dict[str, float] = self.workers()
        except Exception:  # Redis down: report what the database says, not an error page
            return
        alive = GaugeMetricFamily("mailer_workers_alive", "Celery workers with a recent heartbeat")
        alive.add_metric([], len(beats))
        yield alive
        age = GaugeMetricFamily(
            "mailer_worker_heartbeat_age_seconds",
            "Seconds since each worker's last beat",
            labels=["worker"],
        )
        for name, beat in sorted(beats.items()):
            age.add_metric([name], max(time.time() - beat, 0.0))
        yield age


def fleet_registry(db: Engine, workers: object | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(db, workers))
    return registry


def exposition(fleet: CollectorRegistry) -> bytes:
    """This process's counters followed by the fleet's figures, in the text format."""
    return generate_latest(REGISTRY) + generate_latest(fleet)
