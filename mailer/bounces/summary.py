"""Reading the bounce record: per campaign, per address, and the mailbox's own log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.campaigns.models import BounceEvent, BounceKind, ProcessedMessage
from mailer.campaigns.report import bounce_counts
from subscribers.addresses import parse_address


def counts(session: Session, campaign_id: int | None = None) -> dict[str, int]:
    if campaign_id is not None:
        return bounce_counts(session, campaign_id)
    found = {k.value: 0 for k in BounceKind}
    for kind, n in session.execute(
        select(BounceEvent.kind, func.count()).group_by(BounceEvent.kind)
    ):
        found[kind] = n
    return found


def events(
    session: Session, campaign_id: int | None = None, email: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    query = select(BounceEvent).order_by(BounceEvent.id.desc()).limit(limit)
    if campaign_id is not None:
        query = query.where(BounceEvent.campaign_id == campaign_id)
    if email is not None:
        query = query.where(BounceEvent.email_hash == parse_address(email).hash)
    return [
        {
            "at": e.created_at.isoformat(),
            "kind": e.kind,
            "source": e.source,
            "campaign": e.campaign_id,
            "code": e.code,
            "detail": e.detail,
            "status": e.status,
            "diagnostic": e.diagnostic,
            "subscriber_id": e.subscriber_id,
        }
        for e in session.scalars(query)
    ]


def mailbox_log(
    session: Session, outcome: str, limit: int = 50
) -> tuple[int, list[dict[str, Any]]]:
    """(how many, newest first) mailbox messages with this outcome: unverified, poison …"""
    total = session.scalar(
        select(func.count())
        .select_from(ProcessedMessage)
        .where(ProcessedMessage.outcome == outcome)
    )
    rows = session.scalars(
        select(ProcessedMessage)
        .where(ProcessedMessage.outcome == outcome)
        .order_by(ProcessedMessage.id.desc())
        .limit(limit)
    )
    return total or 0, [
        {"at": m.created_at.isoformat(), "message_id": m.message_id, "detail": m.detail}
        for m in rows
    ]
