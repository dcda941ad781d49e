"""The Celery application: one task, a chunk of a campaign, acknowledged late.

Acknowledged late and rejected when its worker is lost, a chunk whose worker
dies goes back to the queue (RabbitMQ at once, Redis after the visibility
timeout); running it again is safe because the ledger lease decides who
sends each row. Tasks are JSON (campaign id, quota): nothing pickled crosses
the broker, so a broker reachable by others cannot make a worker run code.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from celery.signals import worker_shutting_down
from sqlalchemy import Engine

from mailer import metrics
from mailer.settings import Settings, coordination_url
from mailer.workers import coordination
from mailer.workers.chunk import run_chunk

log = logging.getLogger(__name__)

TASK = "mailer.deliver_chunk"
QUEUE = "mailer"
# Redis gives an unacknowledged task (its worker died) to another worker after this.
VISIBILITY_SECONDS = 120


def make_app(settings: Settings) -> Celery:
    app = Celery("mailer", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_SECONDS},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_enable_remote_control=False,
    )
    app.task(name=TASK, bind=True)(_deliver_chunk)
    return app


@dataclass
class WorkerContext:
    """What a task needs in this worker process (set by `mailer worker`)."""

    db: Engine
    settings: Settings
    client: redis.Redis | None
    halt: threading.Event


_context: WorkerContext | None = None


def set_context(db: Engine, settings: Settings) -> WorkerContext:
    global _context
    url = coordination_url(settings)
    _context = WorkerContext(
        db, settings, coordination.connect(url) if url else None, threading.Event()
    )
    return _context


def _on_shutdown(**_kwargs: Any) -> None:
    # Warm shutdown (SIGTERM): chunks stop between two messages and give rows back.
    if _context is not None:
        _context.halt.set()


worker_shutting_down.connect(_on_shutdown, weak=False)


def _deliver_chunk(task: Any, campaign_id: int, quota: int) -> dict[str, Any]:
    ctx = _context
    if ctx is None:
        raise RuntimeError("mailer tasks run only in `mailer worker`")
    try:
        result = run_chunk(ctx.db, ctx.settings, int(campaign_id), int(quota), ctx.client, ctx.halt)
    except Exception:
        metrics.CHUNKS.labels("error").inc()
        log.exception("chunk of campaign %s failed; its rows stay in the ledger", campaign_id)
        raise
    metrics.CHUNKS.labels("done").inc()
    log.info(
        "chunk of campaign %d: %d rows taken; campaign %s",
        result.campaign,
        result.sent_or_tried,
        result.status,
    )
    return {"campaign": result.campaign, "rows": result.sent_or_tried, "status": result.status}
