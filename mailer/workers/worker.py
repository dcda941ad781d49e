"""`mailer worker`: a Celery worker process with a heartbeat and its own /metrics."""

from __future__ import annotations

import logging

from prometheus_client import start_http_server
from sqlalchemy import Engine

from mailer import metrics
from mailer.settings import Settings
from mailer.workers import coordination, redisack
from mailer.workers.app import QUEUE, make_app, set_context

log = logging.getLogger(__name__)


def run_worker(db: Engine, settings: Settings, concurrency: int, metrics_port: int) -> None:
    """Serve chunk tasks until SIGTERM/SIGINT (warm shutdown: chunks stop between messages)."""
    context = set_context(db, settings)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.web_host)
    heartbeat = None
    if context.client is not None:
        heartbeat = coordination.Heartbeat(context.client, on_beat=metrics.HEARTBEAT.set)
        heartbeat.start()
    app = make_app(settings)
    redisack.install()  # a Redis restart must not leave this worker idle (redisack.py)
    try:
        # The threads pool keeps a worker one process: a SIGKILL takes all of it,
        # and nothing is left half-alive holding leases.
        app.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency}",
                f"--queues={QUEUE}",
                f"--loglevel={settings.log_level.upper()}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    finally:
        if heartbeat is not None:
            heartbeat.stop()
