"""What subscribers do themselves: subscribe, confirm, unsubscribe, set preferences.

The rules, independent of the web: a suppressed address is never
subscribed (and the caller is not told); an address that is already
confirmed stays so; a person who unsubscribed may subscribe again, but on a
double opt-in list only by confirming again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscribers.addresses import parse_address
from subscribers.fields import check_language, check_name
from subscribers.lists import get_list
from subscribers.members import find_suppression, suppress
from subscribers.models import (
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
    utcnow,
)


class Next(enum.StrEnum):
    CONFIRM = "confirm"  # send a confirmation email
    DONE = "done"  # subscribed (single opt-in) or already confirmed: nothing to send
    IGNORE = "ignore"  # suppressed: do nothing, say nothing


@dataclass(frozen=True)
class Request:
    next: Next
    subscriber_id: int | None
    list_id: int
    email: str
    language: str | None


def request_subscription(
    session: Session,
    email: str,
    list_slug: str,
    *,
    name: str = "",
    language: str = "",
    ip: str | None = None,
    source: str = "web",
) -> Request:
    address = parse_address(email)
    name = check_name(name)
    lang = check_language(language)
    ml = get_list(session, list_slug)
    if find_suppression(session, address) is not None:
        return Request(Next.IGNORE, None, ml.id, address.given, lang)
    now = utcnow()
    sub = session.scalar(select(Subscriber).where(Subscriber.email_normalized == address.key))
    if sub is None:
        sub = Subscriber(
            email=address.given,
            email_normalized=address.key,
            email_hash=address.hash,
            name=name,
            language=lang,
            attributes={},
            consent_source=source,
            consent_at=now,
            consent_ip=ip,
        )
        session.add(sub)
        session.flush()
    subscription = session.get(Subscription, (sub.id, ml.id))
    if subscription is not None and subscription.status == SubscriptionStatus.CONFIRMED:
        return Request(Next.DONE, sub.id, ml.id, sub.email, sub.language)
    if subscription is None:
        subscription = Subscription(
            subscriber_id=sub.id,
            list_id=ml.id,
            created_at=now,
            status=SubscriptionStatus.UNCONFIRMED,
        )
        session.add(subscription)
    # Consent is recorded for this request (the form, the time, the address).
    sub.consent_source, sub.consent_at, sub.consent_ip = source, now, ip
    if ml.double_opt_in:
        subscription.status = SubscriptionStatus.UNCONFIRMED
        session.flush()
        return Request(Next.CONFIRM, sub.id, ml.id, sub.email, sub.language or lang)
    subscription.status = SubscriptionStatus.CONFIRMED
    subscription.confirmed_at = now
    subscription.unsubscribed_at = None
    session.flush()
    return Request(Next.DONE, sub.id, ml.id, sub.email, sub.language or lang)


class Confirmation(enum.StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already"  # the link was used before
    GONE = "gone"  # erased, unsubscribed since, or suppressed


def confirm(session: Session, subscriber_id: int, list_id: int) -> Confirmation:
    subscription = session.get(Subscription, (subscriber_id, list_id))
    sub = session.get(Subscriber, subscriber_id)
    if subscription is None or sub is None:
        return Confirmation.GONE
    if find_suppression(session, parse_address(sub.email)) is not None:
        return Confirmation.GONE
    if subscription.status == SubscriptionStatus.CONFIRMED:
        return Confirmation.ALREADY
    if subscription.status != SubscriptionStatus.UNCONFIRMED:
        return Confirmation.GONE
    subscription.status = SubscriptionStatus.CONFIRMED
    subscription.confirmed_at = utcnow()
    session.flush()
    return Confirmation.CONFIRMED


def unsubscribe_from(session: Session, subscriber_id: int, list_id: int | None) -> bool:
    """One list, or every list and suppress (``list_id`` None). False if nobody to act on."""
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        return False
    now = utcnow()
    query = select(Subscription).where(Subscription.subscriber_id == subscriber_id)
    if list_id is not None:
        query = query.where(Subscription.list_id == list_id)
    for subscription in session.scalars(query):
        if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
            subscription.status = SubscriptionStatus.UNSUBSCRIBED
            subscription.unsubscribed_at = now
    if list_id is None:
        suppress(session, sub.email, SuppressionReason.UNSUBSCRIBED, "unsubscribed from all lists")
    session.flush()
    return True


@dataclass(frozen=True)
class Preferences:
    email: str
    name: str
    language: str | None
    lists: list[tuple[MailingList, bool]]  # public lists, subscribed?


def preferences(session: Session, subscriber_id: int) -> Preferences | None:
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        return None
    mine = {
        s.list_id
        for s in session.scalars(
            select(Subscription).where(
                Subscription.subscriber_id == subscriber_id,
                Subscription.status == SubscriptionStatus.CONFIRMED,
            )
        )
    }
    lists = session.scalars(
        select(MailingList).where(MailingList.public.is_(True)).order_by(MailingList.title)
    ).all()
    return Preferences(sub.email, sub.name, sub.language, [(ml, ml.id in mine) for ml in lists])


def update_preferences(
    session: Session, subscriber_id: int, *, name: str, language: str, list_ids: set[int]
) -> bool:
    """Name, language, and which public lists; joining a list this way is confirmed
    (the link came to this address)."""
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        return False
    sub.name = check_name(name)
    sub.language = check_language(language)
    now = utcnow()
    public = session.scalars(select(MailingList).where(MailingList.public.is_(True))).all()
    suppressed = find_suppression(session, parse_address(sub.email)) is not None
    for ml in public:
        subscription = session.get(Subscription, (sub.id, ml.id))
        wanted = ml.id in list_ids and not suppressed
        if wanted and (subscription is None or subscription.status != SubscriptionStatus.CONFIRMED):
            if subscription is None:
                subscription = Subscription(
                    subscriber_id=sub.id,
                    list_id=ml.id,
                    created_at=now,
                    status=SubscriptionStatus.CONFIRMED,
                )
                session.add(subscription)
            subscription.status = SubscriptionStatus.CONFIRMED
            subscription.confirmed_at = now
        elif (
            not wanted
            and subscription is not None
            and subscription.status != SubscriptionStatus.UNSUBSCRIBED
        ):
            subscription.status = SubscriptionStatus.UNSUBSCRIBED
            subscription.unsubscribed_at = now
    session.flush()
    return True
