"""The confirmation outbox against a real SMTP server (aiosmtpd) that is down, then up."""

import dataclasses
import email
import email.policy
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from mailer.db import session_scope
from mailer.message import OutgoingMessage
from mailer.outbox import Backoff, ConfirmationRequest, Outbox, OutboxWorker, smtp_sender
from mailer.web.app import create_app
from subscribers.lists import create_list
from subscribers.members import erase
from subscribers.models import utcnow
from tests.mailer.web.conftest import SETTINGS
from tests.smtp_server import SmtpServer
from tests.waiting import wait_for


def _rows(engine: Engine) -> list[ConfirmationRequest]:
    with session_scope(engine) as s:
        rows = list(s.scalars(select(ConfirmationRequest).order_by(ConfirmationRequest.id)))
        s.expunge_all()
        return rows


def test_a_confirmation_waits_out_an_smtp_outage(engine: Engine) -> None:
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=True)
    server = SmtpServer()  # its port is chosen, nothing listens yet: SMTP is down
    settings = dataclasses.replace(
        SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port, smtp_timeout=5
    )
    app = create_app(settings, engine)
    client = TestClient(app)
    r = client.post("/api/lists/lmec-news/subscribe", json={"email": "wait@example.org"})
    assert r.status_code == 202  # the request never touched SMTP
    outbox = Outbox(engine, settings, smtp_sender(settings), Backoff(first=timedelta(seconds=30)))
    assert outbox.deliver_due() == 0
    [row] = _rows(engine)
    assert row.attempts == 1 and row.last_error and row.subscriber_id is not None
    assert row.email == ""  # applied: the subscriber row holds the address now
    assert outbox.deliver_due() == 0  # not due again before its backoff
    later = utcnow() + timedelta(seconds=31)
    with server:
        assert outbox.deliver_due(later) == 1
        [received] = server.handler.by_recipient()["wait@example.org"]
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "/confirm/" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert _rows(engine) == []


def test_requests_at_once_make_one_confirmation_and_erase_drops_pending(engine: Engine) -> None:
    sent: list[OutgoingMessage] = []
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=True)
    app = create_app(SETTINGS, engine, send=sent.append)
    app.state.web.per_email.limit = 100
    client = TestClient(app)
    for _ in range(5):
        client.post("/api/lists/lmec-news/subscribe", json={"email": "Many@Example.org"})
    client.post("/api/lists/lmec-news/subscribe", json={"email": "gone@example.org"})
    failing = Outbox(engine, SETTINGS, _refuse)
    failing.deliver_due()  # applied, sending failed: rows wait with their subscriber
    assert [r.attempts for r in _rows(engine)] == [1, 1]
    with session_scope(engine) as s:
        erase(s, "gone@example.org")  # a pending confirmation goes with the person
    outbox = Outbox(engine, SETTINGS, sent.append)
    assert outbox.deliver_due(utcnow() + timedelta(minutes=10)) == 1
    assert [m.envelope_to for m in sent] == ["Many@Example.org"]
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ConfirmationRequest)) == 0


def test_a_confirmation_is_given_up_when_its_link_would_have_expired(engine: Engine) -> None:
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=True)
    client = TestClient(create_app(SETTINGS, engine, send=_refuse))
    client.post("/api/lists/lmec-news/subscribe", json={"email": "late@example.org"})
    outbox = Outbox(engine, SETTINGS, _refuse)
    outbox.deliver_due()
    assert len(_rows(engine)) == 1
    outbox.deliver_due(utcnow() + timedelta(hours=73))
    assert _rows(engine) == []


def test_backoff_doubles_up_to_its_limit() -> None:
    b = Backoff(first=timedelta(seconds=5), most=timedelta(seconds=60))
    assert [b.delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 9)] == [5, 10, 20, 40, 60, 60]


def _refuse(message: OutgoingMessage) -> None:
    raise ConnectionRefusedError("SMTP is down")


def test_the_worker_thread_sends_what_the_web_queues(engine: Engine) -> None:
    sent: list[OutgoingMessage] = []
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=True)
    app = create_app(SETTINGS, engine, send=sent.append)
    worker = OutboxWorker(app.state.web.outbox, poll_seconds=0.05)
    worker.start()
    try:
        TestClient(app).post("/lists/lmec-news/subscribe", data={"email": "bg@example.org"})
        assert wait_for(lambda: sent)
    finally:
        worker.stop()
    assert [m.envelope_to for m in sent] == ["bg@example.org"]
