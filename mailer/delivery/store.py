"""Everything the delivery engine reads and writes, in short transactions.

A claim takes a batch of due rows under a lease (on PostgreSQL with FOR
UPDATE SKIP LOCKED, so many workers never take the same row); the rows stay
``queued``/``deferred``. Only the one message about to go on the wire is
``sending``: the transaction that records one message's outcome also marks
the next one ``sending``, before it is sent (one commit per message, cheap:
WAL on SQLite, ``synchronous_commit = off`` on PostgreSQL, which still
survives a killed client). So after a crash, the rows left ``sending`` are
exactly the messages that were on the wire — at most one per connection —
and only they are requeued as in doubt; the rest of a dead worker's batch is
simply claimed again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Engine,
    Select,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    update,
)

from mailer.bounces.policy import Policy
from mailer.campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
)
from mailer.campaigns.service import pending_rows
from mailer.db import session_scope, sqlite_path
from mailer.delivery.claimed import Claimed
from mailer.delivery.claims import claim_in_session, due_rows
from mailer.delivery.group import GroupCommit
from mailer.delivery.outcomes import Outcome
from mailer.delivery.owners import owner_is_dead_here
from mailer.delivery.recording import write_outcomes
from mailer.delivery.sqliteclaim import claim_rows
from mailer.delivery.sqlitefast import fast_writer
from mailer.delivery.writelock import write_turn


@dataclass(frozen=True)
class _Advance:
    campaign_id: int
    outcomes: Sequence[Outcome]
    next_id: int | None
    now: datetime


class DeliveryStore:
    def __init__(self, engine: Engine, policy: Policy | None = None) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.policy = policy or Policy()
        path = None if self.postgres else sqlite_path(engine)
        self._turn = None if self.postgres else write_turn(path)
        # A database file: the hot transaction in plain DBAPI calls (sqlitefast.py).
        self._fast = fast_writer(path) if path is not None else None
        # Mark rows as on the wire, unless the campaign stopped sending.
        self.mark = (
            update(Delivery)
            .where(
                Delivery.id.in_(bindparam("ids", expanding=True)),
                exists().where(
                    Campaign.id == bindparam("cid"), Campaign.status == CampaignStatus.SENDING
                ),
            )
            .values(
                status=DeliveryStatus.SENDING,
                attempts=Delivery.attempts + 1,
                updated_at=bindparam("now", type_=Delivery.updated_at.type),
            )
        )
        self._group: GroupCommit[_Advance, bool] = GroupCommit(self._advance_all)

    def _writing(self) -> AbstractContextManager[object]:
        """On SQLite, the delivery writers of every thread and process take turns.

        SQLite lets one writer in at a time and makes the others sleep and
        poll (busy_timeout); with a commit per message, four threads polling
        sent a third as many messages as four threads taking turns, and two
        processes polling each other fewer than one (writelock.py).
        """
        return nullcontext() if self._turn is None else self._turn()

    def campaign_status(self, campaign_id: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(select(Campaign.status).where(Campaign.id == campaign_id))

    def recover(
        self,
        campaign_id: int | None,
        now: datetime,
        dead: Callable[[str], bool] = owner_is_dead_here,
    ) -> int:
        """Free rows whose worker is gone (lease over, or its process dead here).

        A row it left ``sending`` was on the wire: requeued and marked in
        doubt (returned: how many). A row it had only claimed goes back as it
        was.
        """
        with self._writing(), session_scope(self.engine) as s:
            query = select(Delivery.id, Delivery.status, Delivery.lease_owner, Delivery.lease_until)
            query = query.where(Delivery.lease_owner.is_not(None) | (Delivery.status == "sending"))
            if campaign_id is not None:
                query = query.where(Delivery.campaign_id == campaign_id)
            stale = [
                row
                for row in s.execute(query)
                if row.lease_until is None
                or row.lease_until < now
                or (row.lease_owner and dead(row.lease_owner))
            ]
            wire = [r.id for r in stale if r.status == DeliveryStatus.SENDING]
            claimed = [r.id for r in stale if r.status != DeliveryStatus.SENDING]
            for i in range(0, len(wire), 500):
                s.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(wire[i : i + 500]))
                    .values(
                        status=DeliveryStatus.QUEUED,
                        in_doubt=True,
                        lease_owner=None,
                        lease_until=None,
                        next_attempt_at=now,
                        updated_at=now,
                    )
                )
            for i in range(0, len(claimed), 500):
                s.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(claimed[i : i + 500]))
                    .values(lease_owner=None, lease_until=None)
                )
            return len(wire)

    def due(self, campaign_id: int, limit: int, now: datetime) -> Select[int]:
        """The ids of up to ``limit`` rows due now and held by nobody."""
        return due_rows(campaign_id, limit, now)

    def claim(
        self, campaign_id: int, owner: str, limit: int, now: datetime, lease: timedelta
    ) -> list[Claimed]:
        """Lease up to ``limit`` due rows to ``owner``, with what their messages need."""
        if self._fast is not None:
            fast = self._fast
            with self._writing():
                return fast.transaction(
                    lambda conn: claim_rows(conn, campaign_id, owner, limit, now, now + lease)
                )
        with self._writing(), session_scope(self.engine) as s:
            return claim_in_session(s, self.postgres, campaign_id, owner, limit, now, lease)

    def release(self, ids: Sequence[int], now: datetime) -> None:
        """Give back claimed rows that never went on the wire (a stop, a pause)."""
        if not ids:
            return
        with self._writing(), session_scope(self.engine) as s:
            s.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_(list(ids)),
                    Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED]),
                )
                .values(lease_owner=None, lease_until=None)
            )

    def renew(self, ids: Sequence[int], owner: str, until: datetime) -> None:
        """Extend the lease on claimed rows still held by ``owner`` (a long batch)."""
        if not ids:
            return
        with self._writing(), session_scope(self.engine) as s:
            s.execute(
                update(Delivery)
                .where(Delivery.id.in_(list(ids)), Delivery.lease_owner == owner)
                .values(lease_until=until)
            )

    def advance(
        self,
        campaign_id: int,
        outcomes: Sequence[Outcome],
        next_id: int | None,
        now: datetime,
    ) -> bool:
        """Record ``outcomes`` and mark ``next_id`` as on the wire, in one commit.

        Returns False (and marks nothing) when the campaign is no longer
        sending: paused or cancelled meanwhile, so the next message stays home.
        The commit is shared with the other connections of this process that
        are waiting to record theirs (group.py).
        """
        marked = self._group.submit(_Advance(campaign_id, outcomes, next_id, now))
        self.recorded(campaign_id, outcomes)
        return marked

    def _advance_all(self, items: Sequence[_Advance]) -> list[bool]:
        """One transaction for a group of ``advance`` calls; for each, whether its row is marked."""
        # Core, not an ORM session: this runs once per group of messages, and
        # every Python step here is paid again while other threads hold the GIL.
        marks: dict[int, tuple[list[int], datetime]] = {}
        for i in items:
            if i.next_id is not None:
                ids, now = marks.get(i.campaign_id, ([], i.now))
                marks[i.campaign_id] = ([*ids, i.next_id], max(now, i.now))
        fast = self._fast is not None and not any(o.bounce for i in items for o in i.outcomes)
        with self._writing():
            if fast:
                assert self._fast is not None
                outcomes = [(o, i.now) for i in items for o in i.outcomes]
                sending = self._fast.write(outcomes, marks)
            else:
                sending = self._advance_core(items, marks)
        return [i.next_id is None or sending[i.campaign_id] for i in items]

    def _advance_core(
        self, items: Sequence[_Advance], marks: dict[int, tuple[list[int], datetime]]
    ) -> dict[int, bool]:
        with self.engine.begin() as conn:
            if self.postgres:
                # Survives a killed client; only a crash of the server itself
                # could lose the last commits (PERF-NOTES.md).
                conn.execute(text("SET LOCAL synchronous_commit = off"))
            write_outcomes(conn, [(i.campaign_id, i.outcomes, i.now) for i in items], self.policy)
            sending: dict[int, bool] = {}
            for cid, (ids, now) in marks.items():
                # One statement marks them all, or none once the campaign stopped sending.
                marked = conn.execute(self.mark, {"ids": ids, "cid": cid, "now": now})
                sending[cid] = bool(marked.rowcount)
        return sending

    def recorded(self, campaign_id: int, outcomes: Sequence[Outcome]) -> None:
        """Called once outcomes are committed, by every recording path (metrics hook)."""

    def recorded_elsewhere(
        self, campaign_id: int, outcomes: Sequence[tuple[str, int | None, int]]
    ) -> None:
        """(status, SMTP code, how many) of outcomes a helper process committed (metrics hook)."""

    def record(self, campaign_id: int, outcomes: Sequence[Outcome], now: datetime) -> None:
        self.advance(campaign_id, outcomes, None, now)

    def unsend(self, row: Claimed, now: datetime) -> None:
        """The session failed before this message went out: as if never tried."""
        with self._writing(), session_scope(self.engine) as s:
            s.execute(
                update(Delivery)
                .where(Delivery.id == row.id, Delivery.status == DeliveryStatus.SENDING)
                .values(
                    status=row.status,
                    attempts=row.attempts,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )

    def pause(self, campaign_id: int, reason: str) -> bool:
        """The campaign pauses itself, saying why; False if it was not sending."""
        with self._writing(), session_scope(self.engine) as s:
            done = s.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
                .values(status=CampaignStatus.PAUSED, pause_reason=reason[:2000])
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def next_due(self, campaign_id: int) -> tuple[int, datetime | None]:
        """(rows not yet final, earliest next attempt among queued/deferred)."""
        with self.engine.connect() as conn:
            pending = conn.scalar(pending_rows(campaign_id)) or 0
            earliest = conn.scalar(
                select(func.min(Delivery.next_attempt_at)).where(
                    Delivery.campaign_id == campaign_id,
                    or_(
                        Delivery.status == DeliveryStatus.QUEUED,
                        Delivery.status == DeliveryStatus.DEFERRED,
                    ),
                )
            )
        return int(pending), earliest
