"""/metrics: the ledger per campaign, the send rate, bounces, and this process's counters."""

from __future__ import annotations

import dataclasses
import threading

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from mailer.bounces.policy import record as record_bounce
from mailer.campaigns.models import BounceKind
from mailer.db import session_scope
from mailer.metrics import reply_class
from mailer.web.app import create_app
from mailer.workers.chunk import run_chunk
from tests.mailer.sending import SETTINGS, new_campaign, populate
from tests.smtp_server import SmtpServer


def scrape(engine: Engine) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    app = create_app(SETTINGS, engine, send=lambda m: None)
    with TestClient(app) as c:
        response = c.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_show_the_ledger_rate_bounces_and_outcomes(engine: Engine) -> None:
    populate(engine, 6)
    cid = new_campaign(engine)
    with SmtpServer(rcpt_rules={"u5@example.org": "550 5.1.1 no such user"}) as server:
        settings = dataclasses.replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port)
        run_chunk(engine, settings, cid, 4, None)
    with session_scope(engine) as s:
        record_bounce(
            s, email="u0@example.org", kind=BounceKind.COMPLAINT, source="arf", detail="abuse"
        )
    m = scrape(engine)
    c = str(cid)
    assert m[("mailer_ledger_rows", (("campaign", c), ("status", "sent")))] == 4
    assert m[("mailer_ledger_rows", (("campaign", c), ("status", "queued")))] == 2
    assert m[("mailer_ledger_queue_depth", (("campaign", c),))] == 2
    assert m[("mailer_send_rate", ())] == 4 / 60
    assert m[("mailer_bounce_events", (("kind", "complaint"),))] == 1
    # This process's own counters: four sent, with 2xx replies.
    assert m[("mailer_messages_total", (("campaign", c), ("outcome", "sent")))] >= 4
    assert m[("mailer_smtp_replies_total", (("reply_class", "2xx"),))] >= 4
    # No address reaches a label or a value.
    app = create_app(SETTINGS, engine, send=lambda m: None)
    with TestClient(app) as client:
        assert "@example.org" not in client.get("/metrics").text


def test_reply_classes() -> None:
    assert [reply_class(c) for c in (250, 451, 550, None, 0, 999)] == [
        "2xx",
        "4xx",
        "5xx",
        "none",
        "none",
        "none",
    ]


def test_metrics_serve_while_the_engine_runs(engine: Engine) -> None:
    """A scrape in the middle of a send neither blocks nor breaks it."""
    populate(engine, 30)
    cid = new_campaign(engine)
    with SmtpServer(delay=0.01) as server:
        settings = dataclasses.replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port)
        t = threading.Thread(target=run_chunk, args=(engine, settings, cid, 30, None))
        t.start()
        m = scrape(engine)
        t.join(60)
    assert ("mailer_ledger_queue_depth", (("campaign", str(cid)),)) in m
    assert len(server.handler.messages) == 30
