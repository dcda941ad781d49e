"""Group commit: one transaction serves every connection waiting, and nobody sends early."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from mailer.campaigns.models import Delivery
from mailer.db import make_engine, upgrade
from mailer.delivery.engine import LEASE, DeliveryEngine
from mailer.delivery.group import GroupCommit
from mailer.delivery.store import DeliveryStore
from mailer.transport import SendResult
from mailer.transport.memory import MemoryTransport
from subscribers.models import utcnow
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate


def test_waiting_items_share_one_commit_and_each_gets_its_own_result() -> None:
    release = threading.Event()
    groups: list[list[int]] = []

    def commit(items: Sequence[int]) -> list[int]:
        groups.append(list(items))
        if len(groups) == 1:
            release.wait(10)  # the others queue up behind this first commit
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(commit)
    results: dict[int, int] = {}
    first = threading.Thread(target=lambda: results.update({0: group.submit(0)}))
    first.start()
    while not groups:
        threading.Event().wait(0.001)
    others = [
        threading.Thread(target=lambda i=i: results.update({i: group.submit(i)}))
        for i in range(1, 6)
    ]
    for t in others:
        t.start()
    while len(group._queue) < 5:  # all five are waiting for the first commit
        threading.Event().wait(0.001)
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results == {i: i * 10 for i in range(6)}
    assert groups[0] == [0]
    assert sorted(groups[1]) == [1, 2, 3, 4, 5]  # one commit for all five
    assert (group.groups, group.items) == (2, 6)


def test_a_failed_commit_fails_every_member_and_the_next_group_still_runs() -> None:
    calls: list[list[str]] = []

    def commit(items: Sequence[str]) -> list[str]:
        calls.append(list(items))
        if "bad" in items:
            raise RuntimeError("database gone")
        return list(items)

    group: GroupCommit[str, str] = GroupCommit(commit)
    with pytest.raises(RuntimeError, match="database gone"):
        group.submit("bad")
    assert group.submit("good") == "good"
    assert calls == [["bad"], ["good"]]


class PerConnection(MemoryTransport):
    """One connection; before each send, its previous message must already be committed."""

    def __init__(self, engine: Engine, log: list[str]) -> None:
        super().__init__()
        self.engine = engine
        self.unrecorded = log

    def send(
        self, envelope_from: str, recipient: str, data: bytes, smtputf8: bool = False
    ) -> SendResult:
        if self.sent:
            before = self.sent[-1].recipient
            with self.engine.connect() as conn:  # another connection: sees commits only
                rows = conn.execute(
                    text(
                        "SELECT d.status FROM deliveries d JOIN subscribers s"
                        " ON s.id = d.subscriber_id WHERE s.email = :e"
                    ),
                    {"e": before},
                ).all()
            if [r.status for r in rows] != ["sent"]:
                self.unrecorded.append(before)
        return super().send(envelope_from, recipient, data, smtputf8)


def test_four_connections_each_record_before_their_next_message(engine: Engine) -> None:
    n = 120
    populate(engine, n)
    cid = new_campaign(engine)
    unrecorded: list[str] = []
    transports: list[PerConnection] = []

    def factory() -> PerConnection:
        t = PerConnection(engine, unrecorded)
        transports.append(t)
        return t

    delivery = DeliveryEngine(engine, SETTINGS, factory, envelope_from="b@example.org", workers=4)
    assert delivery.run(cid, threading.Event()) == "finished"
    assert {r.status for r in ledger(engine, cid)} == {"sent"}
    assert sum(len(t.sent) for t in transports) == n
    assert unrecorded == []
    if engine.dialect.name == "sqlite":  # PostgreSQL folds each message into one statement
        assert delivery.store._group.items >= n  # every outcome went through a group commit


def _plan(engine: Engine, query: Any) -> str:
    with engine.connect() as conn:
        sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
        return "\n".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))


def test_a_claim_reads_its_batch_off_the_index_without_sorting_every_due_row(
    tmp_path: Path,
) -> None:
    # ORDER BY id sorted all of a campaign's due rows on every claim: O(n) a
    # claim, O(n^2) a campaign. The index order needs no sort.
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    upgrade(engine)
    plan = _plan(engine, DeliveryStore(engine).due(1, 128, utcnow()))
    assert "ix_deliveries_claim" in plan
    assert "TEMP B-TREE" not in plan, plan
    engine.dispose()


def test_claims_come_in_id_order_within_one_start(engine: Engine) -> None:
    populate(engine, 10)
    cid = new_campaign(engine)
    store = DeliveryStore(engine)
    first = store.claim(cid, "w", 4, utcnow(), LEASE)
    second = store.claim(cid, "w", 4, utcnow(), LEASE)
    with engine.connect() as conn:
        ids = conn.scalars(
            select(Delivery.id).where(Delivery.campaign_id == cid).order_by(Delivery.id)
        ).all()
    assert [c.id for c in first + second] == list(ids[:8])


def test_one_bad_item_fails_alone_and_the_others_in_its_group_are_committed() -> None:
    # The group's transaction is rolled back whole. Before, every member got
    # the exception: their outcomes (messages that went out) were lost, their
    # workers stopped, and the rows, left "sending", were requeued in doubt and
    # sent again; with several campaigns in one process, one campaign's bad
    # outcome stopped the others' runs.
    release = threading.Event()
    committed: list[list[str]] = []

    def commit(items: Sequence[str]) -> list[str]:
        if items == ["first"]:
            release.wait(10)  # the others queue up behind this first commit
        if "bad" in items:
            raise ValueError("a value the database refuses")
        committed.append(list(items))
        return [i.upper() for i in items]

    group: GroupCommit[str, str] = GroupCommit(commit)
    results: dict[str, object] = {}

    def submit(item: str) -> None:
        try:
            results[item] = group.submit(item)
        except ValueError as exc:
            results[item] = exc

    first = threading.Thread(target=submit, args=("first",))
    first.start()
    while not group._leading:
        threading.Event().wait(0.001)
    others = [threading.Thread(target=submit, args=(i,)) for i in ("a", "bad", "b")]
    for t in others:
        t.start()
    while len(group._queue) < 3:
        threading.Event().wait(0.001)
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results["first"] == "FIRST"
    assert results["a"] == "A" and results["b"] == "B"
    assert isinstance(results["bad"], ValueError)
    assert sorted(map(tuple, committed)) == [("a",), ("b",), ("first",)]
