"""Campaign reports: every count comes from the delivery ledger, the only truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from mailer.campaigns.models import BounceEvent, BounceKind, Campaign, Delivery, DeliveryStatus
from mailer.campaigns.preflight import forced_override
from mailer.campaigns.recipients import unsubscribed_since
from mailer.campaigns.service import get_campaign
from subscribers.models import MailingList, Subscriber, utcnow


@dataclass
class Report:
    campaign: int
    status: str
    list_slug: str
    slug: str
    subject: str
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    in_doubt: int = 0
    in_doubt_recipients: list[str] = field(default_factory=list)
    rate: float = 0.0  # messages sent per second over the last minute
    bounces: dict[str, int] = field(default_factory=dict)  # hard, soft, complaint
    blocked: int = 0  # failed deliveries the relay refused by policy (5.7.x): never suppressed
    unsubscribed: int = 0  # recipients who left the list since the campaign started
    pause_reason: str | None = None
    # What a --force overrode of `mailer doctor`, when and by whom; None if never forced.
    forced_errors: dict[str, Any] | None = None

    @property
    def recipients(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> dict[str, Any]:
        """The `send --json` report."""
        return {
            "campaign": self.campaign,
            "recipients": self.recipients,
            "sent": self.counts.get("sent", 0),
            "failed": self.counts.get("failed", 0),
            "deferred": self.counts.get("deferred", 0),
            "skipped": self.counts.get("skipped", 0),
            "in_doubt": self.in_doubt,
            "blocked": self.blocked,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "status": self.status,
            "list": self.list_slug,
            "slug": self.slug,
            "subject": self.subject,
            "scheduled_at": self.scheduled_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "counts": self.counts,
            "rate": round(self.rate, 2),
            "in_doubt_recipients": self.in_doubt_recipients,
            "bounces": self.bounces,
            "unsubscribed_since": self.unsubscribed,
            "pause_reason": self.pause_reason,
            "forced_errors": self.forced_errors,
        }

    @property
    def state(self) -> str:
        """``paused: relay refused sender (553 …)`` when the campaign paused itself."""
        return f"{self.status}: {self.pause_reason}" if self.pause_reason else self.status


def report(session: Session, campaign_id: int, now: datetime | None = None) -> Report:
    """Counts straight from the ledger: it is the only truth."""
    c = get_campaign(session, campaign_id)
    now = now or utcnow()
    ml = session.get(MailingList, c.list_id)
    counts = {s.value: 0 for s in DeliveryStatus}
    for status, n in session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.campaign_id == c.id)
        .group_by(Delivery.status)
    ):
        counts[status] = n
    doubt = (
        session.execute(
            select(Subscriber.email)
            .select_from(Delivery)
            .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.campaign_id == c.id, Delivery.in_doubt.is_(True))
            .order_by(Subscriber.email)
        )
        .scalars()
        .all()
    )
    # Sent per second over the last minute (or since the start, if sooner).
    window = 60.0
    if c.started_at is not None:
        window = min(window, max((now - c.started_at).total_seconds(), 1.0))
    recent = (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                and_(
                    Delivery.campaign_id == c.id,
                    Delivery.status == DeliveryStatus.SENT,
                    Delivery.sent_at >= now - timedelta(seconds=60),
                )
            )
        )
        or 0
    )
    return Report(
        campaign=c.id,
        status=c.status,
        list_slug=ml.slug if ml else "?",
        slug=c.slug,
        subject=c.subject,
        scheduled_at=c.scheduled_at,
        started_at=c.started_at,
        finished_at=c.finished_at,
        counts=counts,
        in_doubt=len(doubt),
        in_doubt_recipients=[e or "(erased)" for e in doubt],
        rate=recent / window,
        bounces=bounce_counts(session, c.id),
        blocked=session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.campaign_id == c.id, Delivery.failure == "block")
        )
        or 0,
        unsubscribed=len(unsubscribed_since(session, c.id)),
        pause_reason=c.pause_reason,
        forced_errors=forced_override(c),
    )


def bounce_counts(session: Session, campaign_id: int) -> dict[str, int]:
    found = {k.value: 0 for k in BounceKind}
    for kind, n in session.execute(
        select(BounceEvent.kind, func.count())
        .where(BounceEvent.campaign_id == campaign_id)
        .group_by(BounceEvent.kind)
    ):
        found[kind] = n
    return found


def list_campaigns(session: Session) -> list[Report]:
    ids = session.scalars(select(Campaign.id).order_by(Campaign.id.desc())).all()
    return [report(session, cid) for cid in ids]


@dataclass(frozen=True)
class FailedRecipient:
    """A recipient who did not (or may not) get the campaign, and the server's word on it."""

    email: str
    status: str
    failure: str | None  # hard, soft, block, fail, error
    attempts: int
    code: int | None
    reply: str | None
    in_doubt: bool
    next_attempt_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "status": self.status,
            "failure": self.failure,
            "attempts": self.attempts,
            "code": self.code,
            "reply": self.reply,
            "in_doubt": self.in_doubt,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }


def failures(session: Session, campaign_id: int) -> list[FailedRecipient]:
    """Each failed, deferred and in-doubt delivery of a campaign, by address."""
    get_campaign(session, campaign_id)
    rows = session.execute(
        select(
            Subscriber.email,
            Delivery.status,
            Delivery.failure,
            Delivery.attempts,
            Delivery.smtp_code,
            Delivery.smtp_reply,
            Delivery.in_doubt,
            Delivery.next_attempt_at,
        )
        .select_from(Delivery)
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.DEFERRED])
            | Delivery.in_doubt.is_(True),
        )
        .order_by(Subscriber.email)
    )
    return [
        FailedRecipient(
            r.email or "(erased)",
            r.status,
            r.failure,
            r.attempts,
            r.smtp_code,
            r.smtp_reply,
            bool(r.in_doubt),
            r.next_attempt_at if r.status == DeliveryStatus.DEFERRED else None,
        )
        for r in rows
    ]
