"""Campaign life cycle: create, start (write the ledger), pause, resume, cancel, report."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from mailer.campaigns.archive import store_snapshot
from mailer.campaigns.models import (
    PENDING,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
)
from mailer.content.issue import IssueSet, from_snapshot, snapshot
from mailer.errors import MailerError
from subscribers.errors import NotFound
from subscribers.lists import get_list
from subscribers.models import (
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    utcnow,
)


class CampaignError(MailerError):
    """A campaign cannot do what was asked (wrong state, duplicate send…)."""


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id} (see `mailer campaigns ls`)")
    return campaign


def create_campaign(
    session: Session,
    issues: IssueSet,
    list_slug: str,
    scheduled_at: datetime,
    *,
    force: bool = False,
    forced_errors: str | None = None,
    forced_by: str = "cli",
) -> Campaign:
    """Record a campaign; the ledger is written when it starts.

    ``forced_errors``: sent with --force past `mailer doctor`, the errors
    overridden; ``forced_by`` who gave the --force.
    """
    ml = get_list(session, list_slug)
    if not force:
        earlier = session.scalar(
            select(Campaign.id).where(
                Campaign.slug == issues.slug,
                Campaign.list_id == ml.id,
                Campaign.status != CampaignStatus.CANCELLED,
            )
        )
        if earlier is not None:
            raise CampaignError(
                f"issue {issues.slug!r} was already sent or scheduled to {ml.slug!r} "
                f"as campaign {earlier}; use --force to send it again"
            )
    campaign = Campaign(
        list_id=ml.id,
        slug=issues.slug,
        subject=issues.default.subject,
        default_language=issues.default.language,
        sources=snapshot(issues),
        status=CampaignStatus.SCHEDULED,
        scheduled_at=scheduled_at,
        forced_errors=forced_errors,
        forced_at=utcnow() if forced_errors is not None else None,
        forced_by=forced_by if forced_errors is not None else None,
    )
    session.add(campaign)
    session.flush()
    return campaign


def campaign_issues(campaign: Campaign) -> IssueSet:
    return from_snapshot(campaign.sources, campaign.default_language)


def _language_choice(session: Session, issues: IssueSet, list_id: int) -> Any:
    """A SQL CASE giving each subscriber's variant, decided by IssueSet.for_language."""
    languages = session.scalars(
        select(Subscriber.language)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.list_id == list_id, Subscriber.language.is_not(None))
        .distinct()
    ).all()
    default = issues.default.language
    whens = [
        (Subscriber.language == lang, literal(issues.for_language(lang).language))
        for lang in languages
        if lang and issues.for_language(lang).language != default
    ]
    return case(*whens, else_=literal(default)) if whens else literal(default)


def start_campaign(session: Session, campaign: Campaign, now: datetime | None = None) -> int:
    """Write one ledger row per recipient in one INSERT … SELECT; returns the count.

    Recipients: a confirmed subscription to the list and an address that is
    not suppressed. The unique (campaign, subscriber) key makes this safe to
    run twice.
    """
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.MISSED):
        raise CampaignError(f"campaign {campaign.id} is {campaign.status}, not waiting to start")
    issues = campaign_issues(campaign)
    # What the web archive will show; rendered before the ledger's clock starts.
    store_snapshot(session, campaign, issues)
    now = now or utcnow()
    suppressed = exists().where(Suppression.email_hash == Subscriber.email_hash)
    recipients = (
        select(
            literal(campaign.id),
            Subscriber.id,
            _language_choice(session, issues, campaign.list_id),
            literal(DeliveryStatus.QUEUED.value),
            literal(0),
            literal(now, type_=Delivery.next_attempt_at.type),
            literal(False),
            literal(now, type_=Delivery.created_at.type),
            literal(now, type_=Delivery.updated_at.type),
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            Subscription.list_id == campaign.list_id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            ~suppressed,
        )
    )
    columns = [
        "campaign_id",
        "subscriber_id",
        "language",
        "status",
        "attempts",
        "next_attempt_at",
        "in_doubt",
        "created_at",
        "updated_at",
    ]
    already = session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign.id)
    )
    if not already:
        session.execute(insert(Delivery).from_select(columns, recipients))
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = now
    session.flush()
    return int(
        session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign.id)
        )
        or 0
    )


def pause(session: Session, campaign_id: int) -> Campaign:
    c = get_campaign(session, campaign_id)
    if c.status not in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED):
        raise CampaignError(
            f"campaign {c.id} is {c.status}; only a scheduled or sending one pauses"
        )
    c.status = CampaignStatus.PAUSED
    c.pause_reason = None  # staff paused it; the reason is theirs
    session.flush()
    return c


def resume(session: Session, campaign_id: int, now: datetime | None = None) -> Campaign:
    """Paused or missed → on its way again; a campaign cut short by a crash keeps sending.

    A campaign paused before its start keeps its scheduled time: resumed
    before it, it waits for it; resumed after it, it starts now. A scheduled
    campaign stays as it is.
    """
    c = get_campaign(session, campaign_id)
    now = now or utcnow()
    if c.status in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED):
        return c
    if c.status == CampaignStatus.PAUSED:
        c.pause_reason = None
        if c.started_at:
            c.status = CampaignStatus.SENDING
        else:
            c.status = CampaignStatus.SCHEDULED
            if c.scheduled_at <= now:
                start_campaign(session, c, now)
    elif c.status == CampaignStatus.MISSED:
        start_campaign(session, c, now)
    else:
        raise CampaignError(f"campaign {c.id} is {c.status} and cannot be resumed")
    session.flush()
    return c


def cancel(session: Session, campaign_id: int) -> Campaign:
    c = get_campaign(session, campaign_id)
    if c.status in (CampaignStatus.FINISHED, CampaignStatus.CANCELLED):
        raise CampaignError(f"campaign {c.id} is already {c.status}")
    c.status = CampaignStatus.CANCELLED
    c.finished_at = utcnow()
    session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id == c.id,
            Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED]),
        )
        .values(status=DeliveryStatus.SKIPPED, smtp_reply="campaign cancelled", updated_at=utcnow())
    )
    session.flush()
    return c


def mark_missed(session: Session, grace: timedelta, now: datetime | None = None) -> list[int]:
    """Scheduled campaigns whose start passed more than ``grace`` ago wait for `resume`."""
    now = now or utcnow()
    late = list(
        session.scalars(
            select(Campaign).where(
                Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at < now - grace
            )
        )
    )
    for c in late:
        c.status = CampaignStatus.MISSED
    session.flush()
    return [c.id for c in late]


def due_campaigns(session: Session, grace: timedelta, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(Campaign.id)
            .where(
                Campaign.status == CampaignStatus.SCHEDULED,
                Campaign.scheduled_at <= now,
                Campaign.scheduled_at >= now - grace,
            )
            .order_by(Campaign.scheduled_at)
        )
    )


def pending_rows(campaign_id: int) -> Select[int]:
    """How many of a campaign's rows are not final yet (queued, deferred, sending)."""
    return (
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status.in_(PENDING))
    )


def finish_if_done(session: Session, campaign_id: int) -> bool:
    pending = session.scalar(pending_rows(campaign_id))
    if pending:
        return False
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
        .values(status=CampaignStatus.FINISHED, finished_at=utcnow())
    )
    return True
