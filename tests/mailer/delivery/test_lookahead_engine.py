"""The engine with the next envelope announced, against a real server that offers PIPELINING.

Attacks on the lookahead: pauses, cancels and stops while an early envelope
waits at 354 on the server, faults on the early envelope, rows skipped
between two sendable ones, and the per-session message limit.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from mailer.campaigns import service
from mailer.db import session_scope
from mailer.delivery.engine import smtp_engine
from subscribers.members import unsubscribe
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate
from tests.smtp_server import Received, SmtpServer


class Sessions:
    """Which messages arrived on which SMTP session (connection)."""

    def __init__(self, server: SmtpServer) -> None:
        self.by_session: dict[int, list[str]] = defaultdict(list)
        self.alive: list[Any] = []
        self.lock = threading.Lock()
        original = server.handler.handle_DATA

        async def handle_DATA(srv: Any, session: Any, envelope: Any) -> str:
            reply = await original(srv, session, envelope)
            if reply.startswith("250"):
                with self.lock:
                    # Kept alive, so a later session cannot reuse a finished one's id.
                    self.alive.append(session)
                    self.by_session[id(session)].append(envelope.rcpt_tos[0].lower())
            return reply

        server.handler.handle_DATA = handle_DATA  # type: ignore[method-assign]


def settings_for(server: SmtpServer, **kw: Any) -> Any:
    return dataclasses.replace(
        SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port, smtp_timeout=5, **kw
    )


def whole_and_addressed(m: Received) -> bool:
    """The message text is a whole message, addressed to the envelope's recipient."""
    msg = email.message_from_bytes(m.data, policy=email.policy.SMTP)
    return bool(m.data) and msg["To"].addresses[0].addr_spec.lower() == m.rcpt


def wait_for(cond: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_pause_and_resume_mid_run_sends_everyone_once(engine: Engine) -> None:
    emails = populate(engine, 80)
    cid = new_campaign(engine)
    with SmtpServer(pipelining=True) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=3)

        def pause_soon() -> None:
            wait_for(lambda: len(server.handler.messages) >= 20)
            with session_scope(engine) as s:
                service.pause(s, cid)

        t = threading.Thread(target=pause_soon)
        t.start()
        assert deliver.run(cid, threading.Event()) == "paused"
        t.join()
        paused_at = len(server.handler.messages)
        assert paused_at < 80
        with session_scope(engine) as s:
            service.resume(s, cid)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
    assert got == Counter(emails)
    rows = ledger(engine, cid)
    assert {r.status for r in rows} == {"sent"} and not any(r.in_doubt for r in rows)
    assert all(r.attempts == 1 for r in rows)


def test_cancel_mid_run_sends_nobody_after_and_nobody_twice(engine: Engine) -> None:
    populate(engine, 80)
    cid = new_campaign(engine)
    with SmtpServer(pipelining=True) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=3)

        def cancel_soon() -> None:
            wait_for(lambda: len(server.handler.messages) >= 20)
            with session_scope(engine) as s:
                service.cancel(s, cid)

        t = threading.Thread(target=cancel_soon)
        t.start()
        assert deliver.run(cid, threading.Event()) == "cancelled"
        t.join()
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
    rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
    assert set(got.values()) == {1}
    sent = {e for e, r in rows.items() if r.status == "sent"}
    assert sent == set(got)  # the ledger says exactly who got it
    assert all(r.status in ("sent", "skipped") for r in rows.values())


def test_stop_mid_run_hands_back_the_announced_row(engine: Engine) -> None:
    emails = populate(engine, 60)
    cid = new_campaign(engine)
    with SmtpServer(pipelining=True) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=2)
        stop = threading.Event()

        def stop_soon() -> None:
            wait_for(lambda: len(server.handler.messages) >= 15)
            stop.set()

        t = threading.Thread(target=stop_soon)
        t.start()
        deliver.run(cid, stop)
        t.join()
        first = Counter(m.rcpt for m in server.handler.messages)
        assert set(first.values()) == {1}
        rows = ledger(engine, cid)
        assert not any(r.status == "sending" for r in rows)
        assert {e for e in first} == {
            f"u{r.subscriber_id - 1}@example.org" for r in rows if r.status == "sent"
        }
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
    assert got == Counter(emails)


def test_messages_per_connection_holds_with_lookahead(engine: Engine) -> None:
    emails = populate(engine, 40)
    cid = new_campaign(engine)
    with SmtpServer(pipelining=True) as server:
        sessions = Sessions(server)
        deliver = smtp_engine(engine, settings_for(server, messages_per_connection=3), workers=2)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
    assert got == Counter(emails)
    assert max(len(v) for v in sessions.by_session.values()) <= 3


def test_early_envelope_faults_belong_to_their_own_rows(engine: Engine) -> None:
    emails = populate(engine, 30)
    cid = new_campaign(engine)
    with SmtpServer(
        pipelining=True,
        rcpt_rules={
            "u5@example.org": "550 5.1.1 No such user",
            "u9@example.org": "452 4.2.2 Mailbox full",
            "u13@example.org": "421 4.7.0 closing",
        },
        data_rules={"u7@example.org": "554 5.7.1 rejected"},
        times={"u9@example.org": 1, "u13@example.org": 1},
    ) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        deliver.retry = dataclasses.replace(deliver.retry, base=0.01, maximum=0.05)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
    rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
    assert rows["u5@example.org"].status == "failed" and rows["u5@example.org"].smtp_code == 550
    assert rows["u7@example.org"].status == "failed" and rows["u7@example.org"].smtp_code == 554
    for e in emails:
        if e not in ("u5@example.org", "u7@example.org"):
            assert rows[e].status == "sent", (e, rows[e].smtp_reply)
            assert got[e] == 1, e
    assert not any(r.in_doubt for r in rows.values())


def test_hangup_at_the_early_mail_loses_nobody(engine: Engine) -> None:
    emails = populate(engine, 12)
    cid = new_campaign(engine)
    with SmtpServer(pipelining=True, hangup_at="MAIL") as server:
        # The first MAIL is the first message's: let it through, then arm the hangup
        # for the next MAIL, which is the early envelope riding with data.
        server.handler.hangup_at = None
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        original = server.handler.handle_DATA

        armed = {"done": False}

        async def handle_DATA(srv: Any, session: Any, envelope: Any) -> str:
            reply = await original(srv, session, envelope)
            if not armed["done"]:
                armed["done"] = True
                server.handler.hangup_at = "MAIL"
            return reply

        server.handler.handle_DATA = handle_DATA  # type: ignore[method-assign]
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
    assert got == Counter(emails)
    rows = ledger(engine, cid)
    assert {r.status for r in rows} == {"sent"} and not any(r.in_doubt for r in rows)


def test_unsubscribed_between_two_sendable_rows(engine: Engine) -> None:
    emails = populate(engine, 30)
    with session_scope(engine) as s:
        for i in (3, 4, 10, 29):
            unsubscribe(s, f"u{i}@example.org", "lmec-news")
    cid = new_campaign(engine)
    # Unsubscribe more after the rows were made: they are skipped by the engine.
    with session_scope(engine) as s:
        for i in (6, 7, 8, 20):
            unsubscribe(s, f"u{i}@example.org", "lmec-news")
    with SmtpServer(pipelining=True) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
    expected = {e for i, e in enumerate(emails) if i not in (3, 4, 10, 29, 6, 7, 8, 20)}
    assert set(got) == expected and set(got.values()) == {1}
    rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
    assert {rows[f"u{i}@example.org"].status for i in (6, 7, 8, 20)} == {"skipped"}


def test_a_reply_with_a_nul_byte_is_recorded_not_fatal(engine: Engine) -> None:
    # The relay's reply text is outside input; PostgreSQL refuses a NUL in a
    # text column, and the failed commit stopped the run with the row left
    # "sending" (requeued in doubt, sent again, failing again on every resume).
    emails = populate(engine, 6)
    cid = new_campaign(engine)
    with SmtpServer(
        pipelining=True,
        rcpt_rules={"u2@example.org": "550 5.1.1 no\x00such user"},
        data_rules={"u4@example.org": "250 2.0.0 queued as \x00\x00"},
    ) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
    # (the test server keeps no copy of a message it answers by a rule, u4's 250 too)
    assert got == Counter(e for e in emails if e not in ("u2@example.org", "u4@example.org"))
    rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
    assert rows["u2@example.org"].status == "failed"
    assert rows["u2@example.org"].smtp_reply == "5.1.1 no\ufffdsuch user"
    assert rows["u4@example.org"].status == "sent" and not rows["u4@example.org"].in_doubt


def test_smtputf8_recipients_between_ascii_ones_with_pipelining(engine: Engine) -> None:
    from subscribers.lists import create_list
    from subscribers.members import add_subscriber

    utf8 = ["李伟@例子.example", "jörg@bücher.example", "ñandú@example.org"]
    emails = [f"u{i}@example.org" for i in range(10)]
    emails[3:3] = utf8[:1]
    emails[5:5] = utf8[1:]
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter")
        for address in emails:
            add_subscriber(s, address, "lmec-news", confirmed=True)
    cid = new_campaign(engine)
    with SmtpServer(pipelining=True, smtputf8=True) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = server.handler.by_recipient()
        connections = server.handler.connections
    assert len(got) == len(emails) and all(len(v) == 1 for v in got.values())
    for rcpt, (m,) in got.items():
        needs = not rcpt.split("@")[0].isascii()
        assert ("SMTPUTF8" in [o.upper() for o in m.options]) == needs, rcpt
    assert connections == 1
    assert {r.status for r in ledger(engine, cid)} == {"sent"}


class FakeTime:
    """A clock the token bucket sleeps on without the test waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _announced(engine: Engine, rate: float) -> tuple[int, Counter[str]]:
    from mailer.delivery.ratelimit import TokenBucket
    from mailer.transport.smtp import SmtpConnection

    emails = populate(engine, 6)
    cid = new_campaign(engine)
    calls = []
    original = SmtpConnection.announce

    def spy(self: SmtpConnection, *args: Any, **kw: Any) -> None:
        calls.append(args)
        original(self, *args, **kw)

    fake = FakeTime()
    with SmtpServer(pipelining=True) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        deliver.limiter = TokenBucket(rate, clock=fake.clock, sleep=fake.sleep)
        SmtpConnection.announce = spy  # type: ignore[method-assign]
        try:
            assert deliver.run(cid, threading.Event()) == "finished"
        finally:
            SmtpConnection.announce = original  # type: ignore[method-assign]
        got = Counter(m.rcpt for m in server.handler.messages)
    assert got == Counter(emails)
    return len(calls), got


def test_a_slow_rate_limit_sends_no_envelope_early(engine: Engine) -> None:
    # One message a minute: the next envelope would sit at 354 for a minute.
    announced, _ = _announced(engine, rate=1 / 60)
    assert announced == 0


def test_without_a_slow_rate_limit_every_next_envelope_goes_early(engine: Engine) -> None:
    announced, _ = _announced(engine, rate=0)
    assert announced == 5  # all but the last of the batch


class Building:
    """MessageFactory.build, calling ``hook`` with each recipient first; and the
    recipients the server saw at RCPT (an envelope that went early included)."""

    def __init__(self, server: SmtpServer, hook: Callable[[str], None]) -> None:
        from mailer.message.build import MessageFactory

        self.factory = MessageFactory
        self.original = MessageFactory.build
        self.rcpts: list[str] = []
        original_rcpt = server.handler.handle_RCPT

        async def handle_RCPT(srv: Any, session: Any, envelope: Any, address: str, *a: Any) -> str:
            self.rcpts.append(address.lower())
            return await original_rcpt(srv, session, envelope, address, *a)

        server.handler.handle_RCPT = handle_RCPT  # type: ignore[method-assign]

        def build(factory: Any, r: Any, *args: Any, **kw: Any) -> Any:
            hook(r.email)
            return self.original(factory, r, *args, **kw)

        self.build = build

    def __enter__(self) -> Building:
        self.factory.build = self.build  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.factory.build = self.original  # type: ignore[method-assign]


def test_a_message_that_fails_to_build_after_its_envelope_went_early(engine: Engine) -> None:
    # The next message is built while the relay takes this one, after its
    # envelope went out: a build error fails that row alone, and its
    # envelope, left open at the server, carries nobody's message.
    emails = populate(engine, 12)
    cid = new_campaign(engine)
    bad = {"u4@example.org", "u5@example.org", "u11@example.org"}
    built: Counter[str] = Counter()

    def hook(email: str) -> None:
        built[email] += 1
        if email in bad:
            raise ValueError("a bad attribute")

    with SmtpServer(pipelining=True) as server, Building(server, hook):
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
    assert got == Counter(e for e in emails if e not in bad)
    assert built == Counter(emails)  # each message built once, while its predecessor was out
    rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
    assert {rows[e].status for e in bad} == {"failed"}
    assert not any(r.in_doubt for r in rows.values())


def test_a_stop_while_the_next_message_is_built_hands_that_row_back(engine: Engine) -> None:
    # u5 is built while the relay takes u4, its envelope already out (354):
    # the stop comes then. u4 is recorded sent; u5 goes nowhere and is
    # handed back as it was, to be sent once by the next run.
    emails = populate(engine, 12)
    cid = new_campaign(engine)
    stop = threading.Event()

    def hook(email: str) -> None:
        if email == "u5@example.org":
            stop.set()

    with SmtpServer(pipelining=True) as server, Building(server, hook) as building:
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        deliver.run(cid, stop)
        first = [m.rcpt for m in server.handler.messages]
        early = list(building.rcpts)
        rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
    assert first == emails[:5]
    assert "u5@example.org" in early  # its envelope had gone out with u4's data
    assert [e for e in emails if rows[e].status == "sent"] == emails[:5]
    u5 = rows["u5@example.org"]
    assert (u5.status, u5.attempts, u5.lease_owner, u5.in_doubt) == ("queued", 0, None, False)
    assert got == Counter(emails)


def test_a_pause_while_the_next_message_is_built_keeps_it_home(engine: Engine) -> None:
    emails = populate(engine, 12)
    cid = new_campaign(engine)

    paused: list[str] = []

    def hook(email: str) -> None:
        if email == "u5@example.org" and not paused:  # the first run's build of u5
            paused.append(email)
            with session_scope(engine) as s:
                service.pause(s, cid)

    with SmtpServer(pipelining=True) as server, Building(server, hook) as building:
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        assert deliver.run(cid, threading.Event()) == "paused"
        first = [m.rcpt for m in server.handler.messages]
        early = list(building.rcpts)
        rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
        with session_scope(engine) as s:
            service.resume(s, cid)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
    assert first == emails[:5] and "u5@example.org" in early
    assert rows["u4@example.org"].status == "sent"  # recorded, though the pause came first
    u5 = rows["u5@example.org"]
    assert (u5.status, u5.attempts, u5.lease_owner, u5.in_doubt) == ("queued", 0, None, False)
    assert got == Counter(emails)


def test_an_error_in_the_work_done_meanwhile_is_not_the_messages(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Whatever escapes the build-ahead (a bug there) is logged; the message
    # whose reply was awaited is graded by that reply alone, and the next
    # one is built in its turn.
    from mailer.delivery.engine import DeliveryEngine

    emails = populate(engine, 8)
    cid = new_campaign(engine)
    original = DeliveryEngine._build_ahead

    def build_ahead(self: DeliveryEngine, run: Any, row: Any, built: list[Any]) -> None:
        if row.email in ("u3@example.org", "u7@example.org"):
            raise RuntimeError("a bug in the build-ahead")
        original(self, run, row, built)

    monkeypatch.setattr(DeliveryEngine, "_build_ahead", build_ahead)
    with SmtpServer(pipelining=True) as server:
        deliver = smtp_engine(engine, settings_for(server), workers=1)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
        assert all(whole_and_addressed(m) for m in server.handler.messages)
        sessions = server.handler.connections
    assert got == Counter(emails)
    rows = ledger(engine, cid)
    assert {r.status for r in rows} == {"sent"} and all(r.attempts == 1 for r in rows)
    assert not any(r.in_doubt for r in rows)
    assert sessions == 1  # nothing about the session was suspect
    failed = [r for r in caplog.records if r.getMessage().startswith("work done while waiting")]
    assert len(failed) == 2
