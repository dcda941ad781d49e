"""Who a failure belongs to, against a real SMTP server on loopback that misbehaves.

The session (a relay refusing our sender or our login) pauses the campaign
and touches nobody; the recipient's reply is graded by its enhanced code; a
relay that blocks everyone trips the circuit breaker; an exception building
one message fails that recipient only.
"""

import dataclasses
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from mailer.campaigns import service
from mailer.campaigns.models import BounceEvent
from mailer.campaigns.report import report
from mailer.db import session_scope
from mailer.delivery.engine import DeliveryEngine, RetryPolicy, smtp_engine
from mailer.message import MessageFactory
from mailer.settings import Settings
from subscribers.models import Suppression
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate
from tests.smtp_server import SmtpServer


def engine_for(
    db: Engine, server: SmtpServer, workers: int = 2, **settings: object
) -> DeliveryEngine:
    s: Settings = dataclasses.replace(
        SETTINGS,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_timeout=5,
        **settings,  # type: ignore[arg-type]
    )
    deliver = smtp_engine(db, s, workers=workers)
    deliver.retry = RetryPolicy(base=0.02, maximum=0.05, deadline=timedelta(seconds=3))
    deliver.session_retry_seconds = 0.01
    return deliver


def suppressions(db: Engine) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(Suppression)) or 0)


def bounce_kinds(db: Engine) -> Counter[str]:
    with session_scope(db) as s:
        return Counter(s.scalars(select(BounceEvent.kind)))


def resume(db: Engine, cid: int) -> None:
    with session_scope(db) as s:
        service.resume(s, cid)


def state(db: Engine, cid: int) -> str:
    with session_scope(db) as s:
        return report(s, cid).state


def test_relay_refusing_our_sender_pauses_and_touches_nobody(engine: Engine) -> None:
    populate(engine, 20)
    cid = new_campaign(engine)
    with SmtpServer(mail_rule="553 5.7.1 Sender address rejected: not owned by you") as server:
        assert engine_for(engine, server).run(cid, threading.Event()) == "paused"
        assert state(engine, cid) == (
            "paused: relay refused sender (553 5.7.1 Sender address rejected: not owned by you)"
        )
        rows = ledger(engine, cid)
        assert {(r.status, r.attempts, r.in_doubt) for r in rows} == {("queued", 0, False)}
        assert suppressions(engine) == 0 and not bounce_kinds(engine)
        assert server.handler.refused_mail <= 2  # one per worker: nobody else tried
        server.handler.mail_rule = None  # the relay is fixed
        resume(engine, cid)
        assert engine_for(engine, server).run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
    assert got == {f"u{i}@example.org": 1 for i in range(20)}
    assert state(engine, cid) == "finished"


def test_relay_refusing_our_login_pauses_and_resume_completes_once_fixed(engine: Engine) -> None:
    populate(engine, 10)
    cid = new_campaign(engine)
    with SmtpServer(password="right") as server:
        wrong = engine_for(engine, server, smtp_username="news", smtp_password="wrong")
        assert wrong.run(cid, threading.Event()) == "paused"
        assert state(engine, cid).startswith("paused: relay refused our login (535 ")
        assert suppressions(engine) == 0 and server.handler.messages == []
        assert {(r.status, r.attempts) for r in ledger(engine, cid)} == {("queued", 0)}
        resume(engine, cid)
        fixed = engine_for(engine, server, smtp_username="news", smtp_password="right")
        assert fixed.run(cid, threading.Event()) == "finished"
        assert len(server.handler.messages) == 10


def test_unreachable_relay_pauses_after_a_few_tries(engine: Engine) -> None:
    from tests.smtp_server import free_port

    populate(engine, 5)
    cid = new_campaign(engine)
    deliver = smtp_engine(
        engine, dataclasses.replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=free_port())
    )
    deliver.session_retry_seconds = 0.01
    assert deliver.run(cid, threading.Event()) == "paused"
    assert state(engine, cid).startswith("paused: cannot connect to 127.0.0.1:")
    assert {(r.status, r.attempts) for r in ledger(engine, cid)} == {("queued", 0)}


def test_a_relay_blocking_everyone_trips_the_breaker_and_suppresses_nobody(
    engine: Engine,
) -> None:
    populate(engine, 300)
    cid = new_campaign(engine)
    block = "550 5.7.26 Unauthenticated email from example.org is not accepted (DMARC)"
    with SmtpServer(data_all=block) as server:
        assert engine_for(engine, server, workers=4).run(cid, threading.Event()) == "paused"
    with session_scope(engine) as s:
        r = report(s, cid)
    # Trips on the 11th block (more than 5 % of 200); workers finish what is in flight.
    assert 11 <= r.counts["failed"] <= 11 + 4
    assert r.blocked == r.counts["failed"] and r.counts["sent"] == 0
    assert r.pause_reason is not None and r.pause_reason.startswith("circuit breaker: ")
    assert "5.7.26" in r.pause_reason
    assert r.counts["queued"] == 300 - r.counts["failed"]
    assert suppressions(engine) == 0 and not bounce_kinds(engine)


def test_a_relay_refusing_our_sender_at_rcpt_suppresses_nobody(engine: Engine) -> None:
    """Postfix refuses the return path at RCPT time (smtpd_delay_reject, the default)
    with 5.1.8 or 5.1.7: the sender's problem, so each recipient is blocked, not hard."""
    emails = populate(engine, 60)
    cid = new_campaign(engine)
    refused = "550 5.1.8 <bounces@example.org>: Sender address rejected: Domain not found"
    with SmtpServer(rcpt_rules={e.lower(): refused for e in emails}) as server:
        assert engine_for(engine, server, workers=2).run(cid, threading.Event()) == "paused"
    with session_scope(engine) as s:
        r = report(s, cid)
    assert r.blocked == r.counts["failed"] and r.counts["sent"] == 0
    assert r.pause_reason is not None and "5.1.8" in r.pause_reason
    assert suppressions(engine) == 0 and not bounce_kinds(engine)


def test_breaker_share_zero_turns_it_off(engine: Engine) -> None:
    populate(engine, 30)
    cid = new_campaign(engine)
    with SmtpServer(data_all="554 5.7.1 Spam") as server:
        deliver = engine_for(engine, server, breaker_share=0.0)
        assert deliver.run(cid, threading.Event()) == "finished"
    assert Counter(r.failure for r in ledger(engine, cid)) == {"block": 30}


def test_replies_are_graded_by_enhanced_code(engine: Engine) -> None:
    populate(engine, 6)
    cid = new_campaign(engine)
    with SmtpServer(
        rcpt_rules={
            "u0@example.org": "550 5.1.1 User unknown",
            "u1@example.org": "552 5.2.2 Mailbox full",
            "u2@example.org": "550 5.7.1 Rejected by policy",
            "u3@example.org": "554 5.3.4 Message too big for system",
        }
    ) as server:
        assert engine_for(engine, server).run(cid, threading.Event()) == "finished"
    rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
    assert (rows["u0@example.org"].status, rows["u0@example.org"].failure) == ("failed", "hard")
    # Mailbox full is soft: retried until the deadline, then one soft-bounce point.
    assert (rows["u1@example.org"].status, rows["u1@example.org"].failure) == ("failed", "soft")
    assert rows["u1@example.org"].attempts >= 2
    assert rows["u1@example.org"].smtp_reply.startswith("gave up after")
    assert (rows["u2@example.org"].status, rows["u2@example.org"].failure) == ("failed", "block")
    assert (rows["u3@example.org"].status, rows["u3@example.org"].failure) == ("failed", "fail")
    assert {rows[f"u{i}@example.org"].status for i in (4, 5)} == {"sent"}
    with session_scope(engine) as s:
        suppressed = set(s.scalars(select(Suppression.email_hash)))
        r = report(s, cid)
    from subscribers.addresses import address_hash

    assert suppressed == {address_hash("u0@example.org")}  # 5.1.1 only
    assert bounce_kinds(engine) == {"hard": 1, "soft": 1}
    assert r.blocked == 1


def test_an_exception_building_one_message_fails_only_that_recipient(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(engine, 8)
    cid = new_campaign(engine)
    original = MessageFactory.build

    def build(self: MessageFactory, r: object, date: float | None = None) -> object:
        if getattr(r, "email", "") == "u3@example.org":
            raise ValueError("a template value that cannot be encoded")
        return original(self, r, date)  # type: ignore[arg-type]

    monkeypatch.setattr(MessageFactory, "build", build)
    with SmtpServer() as server:
        assert engine_for(engine, server).run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
    rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
    bad = rows["u3@example.org"]
    assert bad.status == "failed" and bad.failure == "error"
    assert bad.smtp_reply == "error: ValueError: a template value that cannot be encoded"
    assert got == {f"u{i}@example.org": 1 for i in range(8) if i != 3}
    assert suppressions(engine) == 0
