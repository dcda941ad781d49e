"""One line per recipient of a campaign, for the console's report, the API and CSV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.campaigns.models import BounceEvent, Campaign, Delivery, DeliveryStatus
from subscribers.models import Subscriber, Subscription, SubscriptionStatus


@dataclass(frozen=True)
class RecipientLine:
    id: int
    email: str
    status: str
    in_doubt: bool
    attempts: int
    smtp_code: int | None
    smtp_reply: str
    sent_at: datetime | None
    bounce: str  # hard, soft, complaint, or empty
    # When they left the campaign's list, if they did after it started.
    unsubscribed_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sent_at"] = self.sent_at.isoformat() if self.sent_at else None
        out["unsubscribed_at"] = self.unsubscribed_at.isoformat() if self.unsubscribed_at else None
        return out


# Filters the report offers; each is a condition on the ledger row.
FILTERS = (
    "all",
    "sent",
    "failed",
    "deferred",
    "skipped",
    "queued",
    "in_doubt",
    "bounced",
    "unsubscribed",
)


def unsubscribed_since(session: Session, campaign_id: int) -> dict[int, datetime]:
    """Recipients of the campaign who have left its list since it started:
    subscriber id → when. Someone who left and came back is not counted; an
    erased subscriber cannot be (their ledger rows name nobody)."""
    c = session.get(Campaign, campaign_id)
    if c is None or c.started_at is None:
        return {}
    rows = session.execute(
        select(Subscription.subscriber_id, Subscription.unsubscribed_at)
        .join(Delivery, Delivery.subscriber_id == Subscription.subscriber_id)
        .where(
            Delivery.campaign_id == c.id,
            Subscription.list_id == c.list_id,
            Subscription.status == SubscriptionStatus.UNSUBSCRIBED,
            Subscription.unsubscribed_at >= c.started_at,
        )
    ).all()
    return {sid: at for sid, at in rows if at is not None}


def recipients(
    session: Session,
    campaign_id: int,
    status: str = "all",
    query: str = "",
    limit: int | None = 100,
    after: int | None = None,
) -> Iterator[RecipientLine]:
    bounces = {
        sid: kind
        for sid, kind in session.execute(
            select(BounceEvent.subscriber_id, BounceEvent.kind).where(
                BounceEvent.campaign_id == campaign_id
            )
        ).all()
        if sid is not None
    }
    left = unsubscribed_since(session, campaign_id)
    stmt = (
        select(Delivery, Subscriber.email)
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.campaign_id == campaign_id)
        .order_by(Delivery.id)
    )
    if status == "in_doubt":
        stmt = stmt.where(Delivery.in_doubt.is_(True))
    elif status == "bounced":
        stmt = stmt.where(Delivery.subscriber_id.in_(list(bounces) or [-1]))
    elif status == "unsubscribed":
        stmt = stmt.where(Delivery.subscriber_id.in_(list(left) or [-1]))
    elif status != "all":
        stmt = stmt.where(Delivery.status == status)
    q = query.strip().lower()
    if q:
        stmt = stmt.where(Subscriber.email_normalized.contains(q, autoescape=True))
    if after is not None:
        stmt = stmt.where(Delivery.id > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    for d, email in session.execute(stmt).all():
        yield RecipientLine(
            id=d.id,
            email=email or "(erased)",
            status=d.status,
            in_doubt=d.in_doubt,
            attempts=d.attempts,
            smtp_code=d.smtp_code,
            smtp_reply=d.smtp_reply or "",
            sent_at=d.sent_at,
            bounce=bounces.get(d.subscriber_id, "") if d.subscriber_id else "",
            unsubscribed_at=left.get(d.subscriber_id) if d.subscriber_id else None,
        )


def sent_per_minute(
    session: Session, campaign_id: int, now: datetime, minutes: int = 10
) -> list[tuple[datetime, int]]:
    """Messages sent in each of the last ``minutes`` whole minutes, oldest first."""
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    buckets = {start + timedelta(minutes=i): 0 for i in range(minutes)}
    times = session.scalars(
        select(Delivery.sent_at).where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at >= start,
        )
    )
    for t in times:
        if t is not None:
            key = t.replace(second=0, microsecond=0)
            if key in buckets:
                buckets[key] += 1
    return sorted(buckets.items())


def subscriber_deliveries(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """One subscriber's history in the ledger: each campaign, outcome and reply."""
    rows = session.execute(
        select(Delivery, Campaign.subject)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
        .limit(200)
    ).all()
    return [
        {
            "campaign": d.campaign_id,
            "subject": subject,
            "status": d.status,
            "in_doubt": d.in_doubt,
            "reply": d.smtp_reply or "",
            "sent_at": d.sent_at,
        }
        for d, subject in rows
    ]
