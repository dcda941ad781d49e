import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, select, update

from mailer.campaigns import service
from mailer.campaigns.models import BounceEvent, Delivery, DeliveryStatus
from mailer.campaigns.report import report
from mailer.db import session_scope
from mailer.delivery.engine import DeliveryEngine, RetryPolicy
from mailer.delivery.ratelimit import TokenBucket
from mailer.delivery.store import DeliveryStore
from mailer.transport import PermanentFailure, SendResult, TemporaryFailure
from mailer.transport.memory import MemoryTransport
from subscribers.members import suppress, unsubscribe
from subscribers.models import utcnow
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate


@dataclass
class Scripted(MemoryTransport):
    """Replies per recipient, one per attempt; then 250."""

    script: dict[str, list[Exception]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(
        self, envelope_from: str, recipient: str, data: bytes, smtputf8: bool = False
    ) -> SendResult:
        with self.lock:
            todo = self.script.get(recipient)
            if todo:
                raise todo.pop(0)
        return super().send(envelope_from, recipient, data, smtputf8)


def engine_for(db: Engine, transport: MemoryTransport, **kw: object) -> DeliveryEngine:
    return DeliveryEngine(
        db, SETTINGS, lambda: transport, envelope_from="bounces@example.org", **kw
    )  # type: ignore[arg-type]


def test_every_recipient_exactly_once_with_fixed_message_ids(engine: Engine) -> None:
    emails = populate(engine, 60)
    cid = new_campaign(engine)
    transport = MemoryTransport()
    assert engine_for(engine, transport, workers=3).run(cid, threading.Event()) == "finished"
    assert sorted(m.recipient for m in transport.sent) == sorted(emails)
    rows = ledger(engine, cid)
    assert {r.status for r in rows} == {"sent"} and all(r.attempts == 1 for r in rows)
    assert all(r.smtp_code == 250 and r.sent_at is not None for r in rows)
    ids = {r.message_id for r in rows}
    assert len(ids) == 60 and all(f"<{cid}." in i for i in ids)
    sent_ids = {
        m.data.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].decode() for m in transport.sent
    }
    assert sent_ids == ids


def test_replies_decide_the_outcome(engine: Engine) -> None:
    populate(engine, 6)
    cid = new_campaign(engine)
    transport = Scripted(
        script={
            "u0@example.org": [TemporaryFailure(451, "try later"), TemporaryFailure(421, "busy")],
            "u1@example.org": [PermanentFailure(550, "5.1.1 no such user")],
            "u2@example.org": [TemporaryFailure(452, "full")] * 100,
            "u3@example.org": [TemporaryFailure(0, "connection lost")],
        }
    )
    fast = engine_for(engine, transport)
    # Giving up is decided by the count of attempts, not by seconds since the
    # rows were made: a loaded machine must not make u0 give up too.
    fast.retry = RetryPolicy(base=0.01, maximum=0.05, deadline=timedelta(days=1), max_attempts=4)
    assert fast.run(cid, threading.Event()) == "finished"
    rows = {r.subscriber_id: r for r in ledger(engine, cid)}
    by_email = {f"u{i}@example.org": rows[i + 1] for i in range(6)}
    assert by_email["u0@example.org"].status == "sent" and by_email["u0@example.org"].attempts == 3
    assert (
        by_email["u1@example.org"].status == "failed"
        and by_email["u1@example.org"].smtp_code == 550
    )
    assert by_email["u2@example.org"].status == "failed"
    assert by_email["u2@example.org"].smtp_reply.startswith("gave up after 4 attempts")
    assert by_email["u2@example.org"].attempts == 4
    assert by_email["u3@example.org"].status == "sent"
    counts = Counter(m.recipient for m in transport.sent)
    assert counts["u0@example.org"] == 1 and "u1@example.org" not in counts
    with session_scope(engine) as s:
        bounces = s.execute(
            select(BounceEvent.kind, BounceEvent.code, BounceEvent.campaign_id)
        ).all()
    # 5.1.1 is hard; the 452s are soft: retried, then one soft point once it gave up.
    assert sorted(bounces) == [("hard", 550, cid), ("soft", 452, cid)]


def test_unsubscribed_or_suppressed_after_start_are_skipped(engine: Engine) -> None:
    populate(engine, 4)
    cid = new_campaign(engine)
    with session_scope(engine) as s:
        unsubscribe(s, "u1@example.org", "lmec-news")
        suppress(s, "u2@example.org")
    transport = MemoryTransport()
    engine_for(engine, transport).run(cid, threading.Event())
    assert sorted(m.recipient for m in transport.sent) == ["u0@example.org", "u3@example.org"]
    with session_scope(engine) as s:
        assert report(s, cid).summary()["skipped"] == 2


def test_in_doubt_rows_are_resent_with_the_same_message_id(engine: Engine) -> None:
    populate(engine, 10)
    cid = new_campaign(engine)
    store = DeliveryStore(engine)
    # A worker that died mid-batch: four rows claimed, the second on the wire.
    claimed = store.claim(cid, "otherhost:1:dead", 4, utcnow(), timedelta(minutes=10))
    assert len(claimed) == 4
    assert store.advance(cid, [], claimed[1].id, utcnow())
    # Claimed rows under a live lease are nobody else's.
    assert store.claim(cid, "me:2:x", 10, utcnow(), timedelta(minutes=10))[0].id == 5
    store.release(list(range(5, 11)), utcnow())
    # Only the row on the wire is in doubt; the rest of the batch is free again.
    assert store.recover(cid, utcnow(), dead=lambda owner: owner.endswith(":dead")) == 1
    transport = MemoryTransport()
    engine_for(engine, transport).run(cid, threading.Event())
    with session_scope(engine) as s:
        r = report(s, cid)
    assert r.summary()["sent"] == 10 and r.in_doubt == 1
    assert r.in_doubt_recipients == ["u1@example.org"]
    assert sorted(m.recipient for m in transport.sent) == [f"u{i}@example.org" for i in range(10)]


def test_expired_lease_counts_as_in_doubt(engine: Engine) -> None:
    populate(engine, 2)
    cid = new_campaign(engine)
    store = DeliveryStore(engine)
    [row] = store.claim(cid, "elsewhere:9:x", 1, utcnow(), timedelta(minutes=10))
    assert store.advance(cid, [], row.id, utcnow())  # on the wire
    assert store.recover(cid, utcnow(), dead=lambda _o: False) == 0  # lease still running
    later = utcnow() + timedelta(minutes=11)
    assert store.recover(cid, later, dead=lambda _o: False) == 1


def test_pause_stops_and_resume_sends_only_the_rest(engine: Engine) -> None:
    populate(engine, 40)
    cid = new_campaign(engine)
    sent_before_pause = threading.Event()

    class Pausing(MemoryTransport):
        def send(self, *a: object, **k: object) -> SendResult:  # type: ignore[override]
            result = super().send(*a, **k)  # type: ignore[arg-type]
            if len(self.sent) == 10:
                with session_scope(engine) as s:
                    service.pause(s, cid)
                sent_before_pause.set()
            return result

    transport = Pausing()
    assert engine_for(engine, transport, workers=1, batch=5).run(cid, threading.Event()) == "paused"
    first = len(transport.sent)
    assert sent_before_pause.is_set() and 10 <= first < 40
    with session_scope(engine) as s:
        service.resume(s, cid)
    assert engine_for(engine, transport, workers=2).run(cid, threading.Event()) == "finished"
    assert sorted(Counter(m.recipient for m in transport.sent).values()) == [1] * 40


def test_stop_hands_back_unsent_rows(engine: Engine) -> None:
    populate(engine, 30)
    cid = new_campaign(engine)
    stop = threading.Event()

    class Stopping(MemoryTransport):
        def send(self, *a: object, **k: object) -> SendResult:  # type: ignore[override]
            result = super().send(*a, **k)  # type: ignore[arg-type]
            if len(self.sent) == 3:
                stop.set()
            return result

    transport = Stopping()
    engine_for(engine, transport, workers=1, batch=10).run(cid, stop)
    rows = ledger(engine, cid)
    assert Counter(r.status for r in rows) == {"sent": 3, "queued": 27}
    assert all(r.attempts == 0 for r in rows if r.status == "queued")


def test_token_bucket_paces_sends() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10, burst=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.acquire()
    assert abs(now[0] - 0.4) < 1e-9  # the first is free, then one every 0.1 s
    unlimited = TokenBucket(0, sleep=sleep)
    before = len(slept)
    for _ in range(100):
        unlimited.acquire()
    assert len(slept) == before


def test_retry_policy_backs_off_until_the_deadline() -> None:
    policy = RetryPolicy(base=60, maximum=3600, deadline=timedelta(hours=72))
    start = utcnow()
    delays = [(policy.next_attempt(n, start, start) - start).total_seconds() for n in (1, 2, 3, 10)]  # type: ignore[operator]
    assert 54 <= delays[0] <= 66 and 108 <= delays[1] <= 132 and 216 <= delays[2] <= 264
    assert 3240 <= delays[3] <= 3960
    assert (
        policy.next_attempt(5, start, start + timedelta(hours=71, minutes=59, seconds=30)) is None
    )


def test_deleted_subscriber_is_skipped(engine: Engine) -> None:
    populate(engine, 2)
    cid = new_campaign(engine)
    with session_scope(engine) as s:
        s.execute(
            update(Delivery)
            .where(Delivery.campaign_id == cid, Delivery.id == 1)
            .values(subscriber_id=None)
        )
    transport = MemoryTransport()
    engine_for(engine, transport).run(cid, threading.Event())
    assert Counter(r.status for r in ledger(engine, cid)) == {"sent": 1, DeliveryStatus.SKIPPED: 1}


def test_a_bug_sending_fails_that_recipient_and_many_trip_the_breaker(engine: Engine) -> None:
    populate(engine, 40)
    cid = new_campaign(engine)

    class Broken(MemoryTransport):
        def send(self, *a: object, **k: object) -> SendResult:  # type: ignore[override]
            raise RuntimeError("a bug, not a mail server's reply")

    outer = threading.Event()
    assert engine_for(engine, Broken(), workers=2).run(cid, outer) == "paused"
    assert not outer.is_set()  # `mailer run`'s other campaigns keep going
    rows = ledger(engine, cid)
    failed = [r for r in rows if r.status == "failed"]
    # Each failed alone with the exception's text; past 10 of them the campaign paused.
    assert 11 <= len(failed) <= 11 + 2
    assert {(r.failure, r.smtp_reply) for r in failed} == {
        ("error", "error: RuntimeError: a bug, not a mail server's reply")
    }
    assert {r.status for r in rows if r not in failed} == {"queued"}  # nothing lost
    with session_scope(engine) as s:
        assert (report(s, cid).pause_reason or "").startswith("circuit breaker: 11 of the last")
