"""The claim through SQLAlchemy: due rows leased, read with their subscribers.

PostgreSQL (and a SQLite database reached other than as a plain file) claims
here; a SQLite file claims through sqliteclaim.py, the same statements in
plain sqlite3 calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, and_, exists, or_, select, text, update
from sqlalchemy.orm import Session

from mailer.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from mailer.delivery.claimed import Claimed, attributes_of
from subscribers.models import Subscriber, Subscription, Suppression


def due_rows(campaign_id: int, limit: int, now: datetime) -> Select[int]:
    """The ids of up to ``limit`` rows due now and held by nobody."""
    return (
        select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED]),
            Delivery.next_attempt_at <= now,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
            # Nothing is claimed once the campaign is paused or cancelled.
            exists().where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING),
        )
        # The claim index's own order: no sort of every due row per claim
        # (ORDER BY id sorted them all, O(n) a claim); equal times go by id.
        .order_by(Delivery.status, Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )


def claim_in_session(
    s: Session,
    postgres: bool,
    campaign_id: int,
    owner: str,
    limit: int,
    now: datetime,
    lease: timedelta,
) -> list[Claimed]:
    """Lease up to ``limit`` due rows to ``owner``; the caller commits."""
    due = due_rows(campaign_id, limit, now)
    if postgres:
        due = due.with_for_update(skip_locked=True)
    else:
        # Take SQLite's write lock first, so two threads never read the
        # same due rows and then both mark them.
        s.execute(text("UPDATE campaigns SET id = id WHERE id = :c"), {"c": campaign_id})
    ids = list(s.scalars(due))
    if not ids:
        return []
    s.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(lease_owner=owner, lease_until=now + lease)
    )
    suppressed = exists().where(Suppression.email_hash == Subscriber.email_hash)
    rows = s.execute(
        select(
            Delivery.id,
            Delivery.subscriber_id,
            Delivery.language,
            Delivery.attempts,
            Delivery.created_at,
            Delivery.status.label("delivery_status"),
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
            attributes_of(r.attributes),
            r.email_hash,
            r.status,
            bool(r.suppressed),
            r.delivery_status,
            r.link_key,
        )
        for r in rows
    ]
