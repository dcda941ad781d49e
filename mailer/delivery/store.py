"""Everything the delivery engine reads and writes, in short transactions.

Claims take a batch of due rows and mark them ``sending`` under a lease (on
PostgreSQL with FOR UPDATE SKIP LOCKED, so many workers never take the same
row); outcomes are written in one transaction per batch. A row left
``sending`` by a worker that died is requeued and marked in doubt: it may
already have been delivered, so it is counted and listed as such.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Engine,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    update,
)

from mailer.bounces.policy import record as record_bounce
from mailer.campaigns.models import (
    BounceKind,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
)
from mailer.campaigns.service import pending_rows
from mailer.db import session_scope
from subscribers.models import Subscriber, Subscription, Suppression

HOST = socket.gethostname()


def owner_id() -> str:
    return f"{HOST}:{os.getpid()}:{os.urandom(3).hex()}"


def owner_is_dead_here(owner: str) -> bool:
    """True when ``owner`` was a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return int(pid) != os.getpid() and _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


@dataclass(frozen=True)
class Claimed:
    id: int
    subscriber_id: int | None
    language: str
    attempts: int
    created_at: datetime
    email: str | None
    name: str
    attributes: dict[str, Any]
    email_hash: str | None
    subscription: str | None
    suppressed: bool
    link_key: str | None = None


@dataclass
class Outcome:
    id: int
    status: DeliveryStatus
    code: int | None = None
    reply: str | None = None
    message_id: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    # (address, code, reply) of a 5xx refusal: a hard bounce, suppressed at once.
    refused: tuple[str, int, str] | None = field(default=None)
    in_doubt: bool = False  # the attempt may have delivered it after all


class DeliveryStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    def campaign_status(self, campaign_id: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(select(Campaign.status).where(Campaign.id == campaign_id))

    def recover(
        self,
        campaign_id: int | None,
        now: datetime,
        dead: Callable[[str], bool] = owner_is_dead_here,
    ) -> int:
        """Requeue rows whose worker is gone (lease over, or its process dead here)."""
        with session_scope(self.engine) as s:
            query = select(Delivery.id, Delivery.lease_owner, Delivery.lease_until).where(
                Delivery.status == DeliveryStatus.SENDING
            )
            if campaign_id is not None:
                query = query.where(Delivery.campaign_id == campaign_id)
            stale = [
                row.id
                for row in s.execute(query)
                if row.lease_until is None
                or row.lease_until < now
                or (row.lease_owner and dead(row.lease_owner))
            ]
            for i in range(0, len(stale), 500):
                s.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(stale[i : i + 500]))
                    .values(
                        status=DeliveryStatus.QUEUED,
                        in_doubt=True,
                        lease_owner=None,
                        lease_until=None,
                        next_attempt_at=now,
                        updated_at=now,
                    )
                )
            return len(stale)

    def claim(
        self, campaign_id: int, owner: str, limit: int, now: datetime, lease: timedelta
    ) -> list[Claimed]:
        due = (
            select(Delivery.id)
            .where(
                Delivery.campaign_id == campaign_id,
                Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED]),
                Delivery.next_attempt_at <= now,
                # Nothing is claimed once the campaign is paused or cancelled.
                exists().where(
                    Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING
                ),
            )
            .order_by(Delivery.id)
            .limit(limit)
        )
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        with session_scope(self.engine) as s:
            if not self.postgres:
                # Take SQLite's write lock first, so two threads never read the
                # same due rows and then both mark them.
                s.execute(text("UPDATE campaigns SET id = id WHERE id = :c"), {"c": campaign_id})
            ids = list(s.scalars(due))
            if not ids:
                return []
            s.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(
                    status=DeliveryStatus.SENDING,
                    lease_owner=owner,
                    lease_until=now + lease,
                    attempts=Delivery.attempts + 1,
                    updated_at=now,
                )
            )
            suppressed = exists().where(Suppression.email_hash == Subscriber.email_hash)
            rows = s.execute(
                select(
                    Delivery.id,
                    Delivery.subscriber_id,
                    Delivery.language,
                    Delivery.attempts,
                    Delivery.created_at,
                    Subscriber.email,
                    Subscriber.name,
                    Subscriber.attributes,
                    Subscriber.email_hash,
                    Subscription.status,
                    Subscriber.link_key,
                    suppressed.label("suppressed"),
                )
                .select_from(Delivery)
                .join(Campaign, Campaign.id == Delivery.campaign_id)
                .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .outerjoin(
                    Subscription,
                    and_(
                        Subscription.subscriber_id == Subscriber.id,
                        Subscription.list_id == Campaign.list_id,
                    ),
                )
                .where(Delivery.id.in_(ids))
                .order_by(Delivery.id)
            ).all()
        return [
            Claimed(
                r.id,
                r.subscriber_id,
                r.language,
                r.attempts,
                r.created_at,
                r.email,
                r.name or "",
                _attrs(r.attributes),
                r.email_hash,
                r.status,
                bool(r.suppressed),
                r.link_key,
            )
            for r in rows
        ]

    def release(self, ids: Sequence[int], now: datetime) -> None:
        """Give back claimed rows that were never attempted (a clean stop)."""
        if not ids:
            return
        with session_scope(self.engine) as s:
            s.execute(
                update(Delivery)
                .where(Delivery.id.in_(list(ids)), Delivery.status == DeliveryStatus.SENDING)
                .values(
                    status=DeliveryStatus.QUEUED,
                    attempts=Delivery.attempts - 1,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )

    def record(self, campaign_id: int, outcomes: Sequence[Outcome], now: datetime) -> None:
        if not outcomes:
            return
        rows = [
            {
                "oid": o.id,
                "status": o.status.value,
                "code": o.code,
                "reply": o.reply,
                "mid": o.message_id,
                "nxt": o.next_attempt_at or now,
                "sent": o.sent_at,
                "now": now,
                "doubt": o.in_doubt,
            }
            for o in outcomes
        ]
        stmt = (
            update(Delivery)
            .where(Delivery.id == _bind("oid"))
            .values(
                status=_bind("status"),
                smtp_code=_bind("code"),
                smtp_reply=_bind("reply"),
                message_id=func.coalesce(_bind("mid"), Delivery.message_id),
                next_attempt_at=_bind("nxt", Delivery.next_attempt_at.type),
                sent_at=_bind("sent", Delivery.sent_at.type),
                lease_owner=None,
                lease_until=None,
                in_doubt=or_(Delivery.in_doubt, _bind("doubt", Boolean())),
                updated_at=_bind("now", Delivery.updated_at.type),
            )
        )
        refused = [o.refused for o in outcomes if o.refused]
        with session_scope(self.engine) as s:
            s.connection().execute(stmt, rows)
            for address, code, reply in refused:
                record_bounce(
                    s,
                    email=address,
                    kind=BounceKind.HARD,
                    source="smtp",
                    detail=f"{code} {reply}",
                    campaign_id=campaign_id,
                    code=code,
                    now=now,
                )

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


def _bind(name: str, type_: Any = None) -> Any:
    return bindparam(name, type_=type_)


def _attrs(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return dict(json.loads(value))
    return {}
