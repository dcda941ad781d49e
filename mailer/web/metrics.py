"""GET /metrics: Prometheus text format for `mailer run` and `mailer web`.

The ledger figures are the whole fleet's (read from the database at scrape
time); with Redis configured, the live workers and their heartbeats too.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from mailer.metrics import exposition, fleet_registry
from mailer.settings import coordination_url
from mailer.workers import coordination

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    app = request.app
    if not hasattr(app.state, "fleet"):
        state = app.state.web
        url = coordination_url(state.settings)
        workers = None
        if url:
            client = coordination.connect(url)
            workers = lambda: coordination.live_workers(client)  # noqa: E731
        app.state.fleet = fleet_registry(state.db, workers)
    return Response(exposition(app.state.fleet), media_type=CONTENT_TYPE_LATEST)
