"""Inviting unconfirmed subscribers: a confirmation email each, through the outbox.

An admin's `subscribers add` or an import into a double opt-in list leaves
people unconfirmed and sends nothing; this queues their confirmation emails
(the worker in `mailer run` or `mailer web` sends them). Rows are queued as
already applied: an invitation records no new consent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from mailer.outbox.models import ConfirmationRequest
from subscribers.addresses import parse_address
from subscribers.lists import get_list
from subscribers.models import Subscriber, Subscription, SubscriptionStatus, Suppression


@dataclass
class InviteReport:
    queued: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (address, why)

    def as_dict(self) -> dict[str, object]:
        return {
            "queued": self.queued,
            "skipped": [{"email": e, "reason": why} for e, why in self.skipped],
        }


def invite(
    session: Session, list_slug: str, emails: Sequence[str] = (), all_unconfirmed: bool = False
) -> InviteReport:
    """Queue a confirmation for each given address (or every unconfirmed one)."""
    ml = get_list(session, list_slug)
    pending = exists().where(
        ConfirmationRequest.subscriber_id == Subscriber.id,
        ConfirmationRequest.list_id == ml.id,
    )
    suppressed = exists().where(Suppression.email_hash == Subscriber.email_hash)
    query = (
        select(Subscriber.id, Subscriber.email_normalized, Subscriber.language)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            Subscription.list_id == ml.id,
            Subscription.status == SubscriptionStatus.UNCONFIRMED,
            ~suppressed,
            ~pending,
        )
    )
    report = InviteReport()
    wanted: dict[str, str] = {}
    if not all_unconfirmed:
        wanted = {parse_address(e).key: e.strip() for e in emails}
        query = query.where(Subscriber.email_normalized.in_(wanted))
    found = set()
    for sid, key, language in session.execute(query.order_by(Subscriber.id)):
        session.add(
            ConfirmationRequest(
                list_id=ml.id,
                email="",
                name="",
                language=language or "",
                source=f"invite:{ml.slug}",
                subscriber_id=sid,
            )
        )
        found.add(key)
        report.queued += 1
    for key, given in wanted.items():
        if key not in found:
            report.skipped.append((given, _why_not(session, ml.id, key)))
    session.flush()
    return report


def _why_not(session: Session, list_id: int, key: str) -> str:
    row = session.execute(
        select(Subscriber.id, Subscriber.email_hash, Subscription.status)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscriber.email_normalized == key, Subscription.list_id == list_id)
    ).first()
    if row is None:
        return "not on this list"
    if row.status != SubscriptionStatus.UNCONFIRMED:
        return f"already {row.status}"
    if session.scalar(select(Suppression.id).where(Suppression.email_hash == row.email_hash)):
        return "suppressed"
    return "a confirmation email is already on its way"
