"""The plain-DBAPI claim on SQLite leases and reads exactly what SQLAlchemy's would."""

from __future__ import annotations

import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from mailer.db import make_engine, session_scope
from mailer.delivery.claimed import Claimed
from mailer.delivery.sqliteclaim import read_time
from mailer.delivery.store import DeliveryStore
from subscribers.lists import create_list
from subscribers.members import add_subscriber, erase, suppress, unsubscribe
from subscribers.models import utcnow
from tests.mailer.sending import new_campaign, populate

LEASE = timedelta(minutes=10)


def varied_ledger(engine: Engine) -> int:
    """A campaign whose rows are every kind a claim meets."""
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter")
        for i in range(40):
            add_subscriber(
                s,
                f"u{i}@example.org",
                "lmec-news",
                name=["", "Ann Lee", "Đặng Thị «Ü»"][i % 3],
                language=["", "en", "vi"][i % 3],
                attributes={"country": "LA", "note": 'ü "x" \\'} if i % 4 == 0 else None,
                confirmed=True,
            )
    cid = new_campaign(engine)
    with session_scope(engine) as s:
        unsubscribe(s, "u3@example.org", "lmec-news")
        suppress(s, "u5@example.org", "manual")
        erase(s, "u7@example.org")
    later = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with engine.begin() as conn:
        q = "UPDATE deliveries SET {} WHERE campaign_id = :c AND id % 40 = :k"
        for k, change in {
            8: "status = 'deferred', attempts = 2",  # due now
            9: f"status = 'deferred', next_attempt_at = '{later}'",  # not yet
            10: f"lease_owner = 'other', lease_until = '{later}'",  # held by another
            11: "lease_owner = 'other', lease_until = '2020-01-01 00:00:00.000000'",  # lapsed
            12: "status = 'sent'",
            13: "attempts = 1, created_at = '2026-03-04 05:06:07'",  # no microseconds
        }.items():
            conn.execute(text(q.format(change)), {"c": cid, "k": k})
        conn.execute(text("UPDATE subscribers SET link_key = NULL WHERE id % 6 = 0"))
        conn.execute(text("UPDATE subscribers SET attributes = 'null' WHERE id = 3"))
    return cid


def every_row(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM deliveries ORDER BY id"))]


def claim_all(store: DeliveryStore, cid: int, now: datetime) -> list[list[Claimed]]:
    batches = []
    while batch := store.claim(cid, "me", 7, now, LEASE):
        batches.append(batch)
        # A claim that took back rows it had just leased would never end.
        assert len(batches) <= 100, "the claim keeps giving rows"
    return batches


class BothWays:
    """The same ledger claimed by SQLAlchemy's claim (on the file) and the plain
    sqlite3 one (on a copy), at the same ``now``: their batches and engines."""

    def __init__(self, db: Path, cid: int) -> None:
        copy = db.with_name(f"{db.stem}-fast.db")
        shutil.copy(db, copy)
        self.slow_engine = make_engine(f"sqlite:///{db}")
        self.fast_engine = make_engine(f"sqlite:///{copy}")
        slow, fast = DeliveryStore(self.slow_engine), DeliveryStore(self.fast_engine)
        slow._fast = None  # SQLAlchemy's claim, as on PostgreSQL
        assert fast._fast is not None
        now = utcnow()
        self.slow, self.fast = claim_all(slow, cid, now), claim_all(fast, cid, now)


def test_the_same_claims_both_ways(sqlite_template: Path, tmp_path: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "a.db")
    first = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    cid = varied_ledger(first)
    first.dispose()
    both = BothWays(tmp_path / "a.db", cid)

    assert both.fast == both.slow
    claimed = [c for batch in both.fast for c in batch]
    assert len(claimed) == 40 - 3  # not yet due, held by another, sent
    kinds = {c.subscription for c in claimed} | {c.suppressed for c in claimed}
    assert {"confirmed", "unsubscribed", None, True, False} <= kinds  # erased: None
    assert any(c.attributes == {"country": "LA", "note": 'ü "x" \\'} for c in claimed)
    assert any(c.link_key is None for c in claimed) and any(c.status == "deferred" for c in claimed)
    assert every_row(both.fast_engine) == every_row(both.slow_engine)  # leases stored alike
    with both.fast_engine.connect() as conn:
        owners = conn.execute(text("SELECT count(*) FROM deliveries WHERE lease_owner = 'me'"))
        assert owners.scalar() == 37


def test_a_paused_campaign_gives_no_rows(sqlite_template: Path, tmp_path: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "p.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    cid = varied_ledger(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE campaigns SET status = 'paused' WHERE id = :c"), {"c": cid})
    assert DeliveryStore(engine).claim(cid, "me", 7, utcnow(), LEASE) == []


def test_stored_times_read_back_as_sqlalchemy_does() -> None:
    assert read_time("2026-03-04 05:06:07").isoformat() == "2026-03-04T05:06:07+00:00"
    assert read_time("2026-03-04 05:06:07.000120").microsecond == 120


def test_a_time_stored_with_an_offset_reads_as_sqlalchemy_reads_it(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # A file written by other means (an import, an older version) may hold a
    # time with its offset: UTCDateTime converts it to UTC, so must the claim.
    shutil.copy(sqlite_template, tmp_path / "o.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    cid = varied_ledger(engine)
    stored = ["2026-03-04 05:06:07+02:00", "2026-03-04 05:06:07-05:30", "2026-03-04T05:06:07"]
    with engine.begin() as conn:
        for k, text_ in enumerate(stored):
            conn.execute(
                text(
                    "UPDATE deliveries SET created_at = :t WHERE campaign_id = :c AND id % 40 = :k"
                ),
                {"t": text_, "c": cid, "k": 20 + k},
            )
    engine.dispose()  # its WAL written back: the copy has it all
    both = BothWays(tmp_path / "o.db", cid)
    assert both.fast == both.slow
    times = {c.created_at.isoformat() for batch in both.fast for c in batch}
    assert {"2026-03-04T03:06:07+00:00", "2026-03-04T10:36:07+00:00"} <= times


def test_the_subscription_read_is_to_the_campaigns_list(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # Each subscriber is on two lists, left one of them: the claim reads the
    # subscription to the campaign's list, and only that campaign's rows.
    shutil.copy(sqlite_template, tmp_path / "l.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}")
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter")
        create_list(s, "events", title="Events")
        for i in range(10):
            for slug in ("lmec-news", "events"):
                add_subscriber(s, f"u{i}@example.org", slug, confirmed=True)
    cid = new_campaign(engine)
    other = new_campaign(engine, "events")
    with session_scope(engine) as s:
        for i in range(10):
            unsubscribe(s, f"u{i}@example.org", "lmec-news" if i < 5 else "events")
    engine.dispose()
    both = BothWays(tmp_path / "l.db", cid)
    assert both.fast == both.slow
    status = {c.email: c.subscription for batch in both.fast for c in batch}
    assert status == {
        f"u{i}@example.org": "unsubscribed" if i < 5 else "confirmed" for i in range(10)
    }
    with both.fast_engine.connect() as conn:
        held = conn.execute(
            text("SELECT count(*) FROM deliveries WHERE campaign_id = :c AND lease_owner IS NULL"),
            {"c": other},
        )
        assert held.scalar() == 10  # the other campaign's rows untouched


def _claim_until_empty(url: str, cid: int, owner: str, slow: bool, start: Any) -> list[int]:
    """In a process of its own: claim small batches until none is left."""
    store = DeliveryStore(make_engine(url))
    if slow:
        store._fast = None
    start.wait(60)  # both processes ready: they claim at the same time
    ids: list[int] = []
    while batch := store.claim(cid, owner, 2, utcnow(), LEASE):
        ids.extend(c.id for c in batch)
        assert len(ids) <= 10_000, "the claim keeps giving rows"
    return ids


@pytest.mark.parametrize("second", ["fast", "sqlalchemy"])
def test_two_processes_never_claim_the_same_row(
    sqlite_template: Path, tmp_path: Path, second: str
) -> None:
    # Each process has its own writer connection and write turn: only the
    # locks (writelock.py, then SQLite's) keep their claims apart.
    path = tmp_path / "two.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    populate(engine, 300)
    cid = new_campaign(engine)
    engine.dispose()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(2, mp_context=ctx) as pool:
        start = manager.Barrier(2)
        url = f"sqlite:///{path}"
        a = pool.submit(_claim_until_empty, url, cid, "a", False, start)
        b = pool.submit(_claim_until_empty, url, cid, "b", second == "sqlalchemy", start)
        got_a, got_b = a.result(timeout=120), b.result(timeout=120)
    assert got_a and got_b  # both took part
    assert not set(got_a) & set(got_b)
    assert len(got_a) + len(got_b) == 300
    with make_engine(f"sqlite:///{path}").connect() as conn:
        owners = dict(
            conn.execute(text("SELECT lease_owner, count(*) FROM deliveries GROUP BY 1")).all()
        )
    assert owners == {"a": len(got_a), "b": len(got_b)}
