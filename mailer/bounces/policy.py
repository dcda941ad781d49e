"""What a bounce or complaint does to an address, and the record of why.

A hard bounce, a 5xx reply at send time or a complaint suppresses the
address at once. Soft bounces earn at most one point a day; a quiet spell of
``bounce_soft_reset_days`` starts the count again; at
``bounce_soft_threshold`` points the address is suppressed. Blocks (5.7.x),
other permanent failures and delay notices are recorded and suppress
nobody: they say nothing wrong about the address. Every event is a
``bounce_events`` row naming the message, the campaign, the status code and
the remote server's diagnostic, and every suppression a
``suppression_events`` row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.bounces.classify import Finding, Kind
from mailer.campaigns.models import BounceEvent, BounceKind, Campaign
from subscribers.addresses import address_hash, parse_address
from subscribers.members import suppress
from subscribers.models import Subscriber, SuppressionReason, utcnow


@dataclass(frozen=True)
class Policy:
    soft_threshold: int = 5
    soft_reset: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Decision:
    email: str
    kind: str
    suppressed: bool
    score: int = 0


def soft_score(session: Session, email_hash: str, policy: Policy) -> int:
    """Distinct days with a soft bounce, counting back until a quiet spell."""
    stamps = session.scalars(
        select(BounceEvent.created_at)
        .where(BounceEvent.email_hash == email_hash, BounceEvent.kind == BounceKind.SOFT)
        .order_by(BounceEvent.created_at.desc())
    ).all()
    days: list[datetime] = []
    for stamp in stamps:
        day = stamp.replace(hour=0, minute=0, second=0, microsecond=0)
        if days and days[-1] == day:
            continue
        if days and days[-1] - day > policy.soft_reset:
            break
        days.append(day)
    return len(days)


def record(
    session: Session,
    *,
    email: str,
    kind: BounceKind,
    source: str,
    detail: str,
    campaign_id: int | None = None,
    code: int | None = None,
    policy: Policy = Policy(),
    now: datetime | None = None,
    status: str = "",
    diagnostic: str = "",
) -> Decision:
    """Record one bounce or complaint for ``email`` and apply the policy."""
    key = parse_address(email).key
    sub = session.scalar(select(Subscriber).where(Subscriber.email_normalized == key))
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        campaign_id = None
    event = BounceEvent(
        email_hash=address_hash(key),
        subscriber_id=sub.id if sub else None,
        campaign_id=campaign_id,
        kind=kind,
        source=source,
        code=code,
        detail=detail,
        status=status[:16] or None,
        diagnostic=diagnostic or None,
        created_at=now or utcnow(),
    )
    session.add(event)
    session.flush()
    where = f" in campaign {campaign_id}" if campaign_id else ""
    if kind is BounceKind.COMPLAINT:
        suppress(session, email, SuppressionReason.COMPLAINED, f"complaint{where}: {detail}")
        return Decision(email, kind, True)
    if kind is BounceKind.HARD:
        suppress(session, email, SuppressionReason.BOUNCED, f"hard bounce{where}: {detail}")
        return Decision(email, kind, True)
    if kind is not BounceKind.SOFT:
        return Decision(email, kind, False)  # block, other failure, delay: recorded only
    score = soft_score(session, event.email_hash, policy)
    if score >= policy.soft_threshold:
        suppress(
            session,
            email,
            SuppressionReason.BOUNCED,
            f"{score} days of soft bounces (threshold {policy.soft_threshold}){where}: {detail}",
        )
        return Decision(email, kind, True, score)
    return Decision(email, kind, False, score)


_KINDS = {
    Kind.HARD: BounceKind.HARD,
    Kind.SOFT: BounceKind.SOFT,
    Kind.BLOCK: BounceKind.BLOCK,
    Kind.FAIL: BounceKind.FAIL,
    Kind.DELAYED: BounceKind.DELAYED,
    Kind.COMPLAINT: BounceKind.COMPLAINT,
}


def apply_finding(
    session: Session, finding: Finding, source_detail: str, policy: Policy
) -> Decision | None:
    """Record a classified report against the one subscriber it proves; None if nobody.

    The addresses a report names are never acted on: only the subscriber our
    VERP tag or Message-ID HMAC names (``finding.subscriber_id``).
    """
    if finding.kind not in _KINDS or finding.subscriber_id is None:
        return None
    sub = session.get(Subscriber, finding.subscriber_id)
    if sub is None:
        return None  # erased since: nobody left to act on
    return record(
        session,
        email=sub.email,
        kind=_KINDS[finding.kind],
        source="arf" if finding.kind is Kind.COMPLAINT else "dsn",
        detail=f"{finding.detail}; {source_detail}",
        campaign_id=finding.campaign_id,
        policy=policy,
        status=finding.status,
        diagnostic=finding.diagnostic,
    )
