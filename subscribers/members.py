"""One subscriber at a time: add, show, list, unsubscribe, suppress, erase."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscribers.addresses import Address, address_hash, parse_address
from subscribers.errors import InvalidInput, NotFound, Suppressed
from subscribers.fields import attribute_key, check_attribute, check_language, check_name
from subscribers.lists import get_list
from subscribers.models import (
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionEvent,
    SuppressionReason,
    utcnow,
)


@dataclass(frozen=True)
class AddResult:
    subscriber: Subscriber
    created: bool
    status: str


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    return session.scalar(
        select(Subscriber).where(Subscriber.email_normalized == parse_address(email).key)
    )


def get_subscriber(session: Session, email: str) -> Subscriber:
    sub = find_subscriber(session, email)
    if sub is None:
        raise NotFound(f"no subscriber with the address {email.strip()!r}")
    return sub


def find_suppression(session: Session, address: Address) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.email_hash == address.hash))


def initial_status(ml: MailingList, confirmed: bool) -> SubscriptionStatus:
    """An admin's --confirmed, or a single opt-in list, confirms at once."""
    if confirmed or not ml.double_opt_in:
        return SubscriptionStatus.CONFIRMED
    return SubscriptionStatus.UNCONFIRMED


def clean_attributes(raw: Mapping[str, str]) -> dict[str, str]:
    # Stripped as the importer strips cells, so both ways in store the same value.
    return {attribute_key(k): check_attribute(k, v).strip() for k, v in raw.items()}


def add_subscriber(
    session: Session,
    email: str,
    list_slug: str,
    *,
    name: str = "",
    language: str = "",
    attributes: Mapping[str, str] | None = None,
    confirmed: bool = False,
    source: str = "cli",
    ip: str | None = None,
) -> AddResult:
    address = parse_address(email)
    name = check_name(name)
    lang = check_language(language)
    attrs = clean_attributes(attributes or {})
    ml = get_list(session, list_slug)
    if find_suppression(session, address) is not None:
        raise Suppressed(f"{address.given} is suppressed and cannot be subscribed")

    now = utcnow()
    sub = session.scalar(select(Subscriber).where(Subscriber.email_normalized == address.key))
    created = sub is None
    if sub is None:
        sub = Subscriber(
            email=address.given,
            email_normalized=address.key,
            email_hash=address.hash,
            name=name,
            language=lang,
            attributes=attrs,
            consent_source=source,
            consent_at=now,
            consent_ip=ip,
        )
        session.add(sub)
        session.flush()
    else:
        # Blank values never erase what is known; new values replace old ones.
        if name:
            sub.name = name
        if lang:
            sub.language = lang
        if attrs:
            sub.attributes = {**sub.attributes, **attrs}

    subscription = session.get(Subscription, (sub.id, ml.id))
    status = initial_status(ml, confirmed)
    if subscription is None:
        subscription = Subscription(
            subscriber_id=sub.id,
            list_id=ml.id,
            status=status,
            created_at=now,
            confirmed_at=now if status is SubscriptionStatus.CONFIRMED else None,
        )
        session.add(subscription)
    elif subscription.status == SubscriptionStatus.UNSUBSCRIBED:
        raise InvalidInput(
            "email",
            f"{address.given} unsubscribed from {ml.slug!r}; only they can subscribe again",
        )
    elif status is SubscriptionStatus.CONFIRMED and subscription.status != status:
        subscription.status = status
        subscription.confirmed_at = now
    session.flush()
    return AddResult(sub, created, subscription.status)


def describe(session: Session, email: str) -> dict[str, Any]:
    """Everything stored about one address, for `subscribers show`."""
    address = parse_address(email)
    sub = session.scalar(select(Subscriber).where(Subscriber.email_normalized == address.key))
    supp = find_suppression(session, address)
    if sub is None and supp is None:
        raise NotFound(f"no subscriber with the address {address.given!r}")
    out: dict[str, Any] = {"email": address.given, "subscriber": None, "suppression": None}
    if sub is not None:
        rows = session.execute(
            select(MailingList.slug, Subscription)
            .join(Subscription, Subscription.list_id == MailingList.id)
            .where(Subscription.subscriber_id == sub.id)
            .order_by(MailingList.slug)
        )
        out["subscriber"] = {
            "id": sub.id,
            "email": sub.email,
            "name": sub.name,
            "language": sub.language,
            "attributes": sub.attributes,
            "consent": {
                "source": sub.consent_source,
                "at": _iso(sub.consent_at),
                "ip": sub.consent_ip,
            },
            "created_at": _iso(sub.created_at),
            "updated_at": _iso(sub.updated_at),
            "subscriptions": [
                {
                    "list": slug,
                    "status": s.status,
                    "created_at": _iso(s.created_at),
                    "confirmed_at": _iso(s.confirmed_at),
                    "unsubscribed_at": _iso(s.unsubscribed_at),
                }
                for slug, s in rows
            ],
        }
    if supp is not None:
        out["suppression"] = {
            "reason": supp.reason,
            "detail": supp.detail,
            "at": _iso(supp.created_at),
        }
    out["suppression_history"] = [
        {"action": e.action, "reason": e.reason, "detail": e.detail, "at": _iso(e.created_at)}
        for e in history(session, email)
    ]
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def check_status(status: str) -> str:
    names = [s.value for s in SubscriptionStatus]
    if status not in names:
        raise InvalidInput("status", f"{status!r} is not one of {', '.join(names)}")
    return status


def iter_members(
    session: Session, list_slug: str | None = None, status: str | None = None
) -> Iterator[tuple[str, str, str | None, str, str]]:
    """(email, name, language, list, status) rows, streamed in address order."""
    if status is not None:
        check_status(status)
    query = (
        select(
            Subscriber.email,
            Subscriber.name,
            Subscriber.language,
            MailingList.slug,
            Subscription.status,
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .order_by(Subscriber.email_normalized, MailingList.slug)
    )
    if list_slug is not None:
        query = query.where(MailingList.id == get_list(session, list_slug).id)
    if status is not None:
        query = query.where(Subscription.status == status)
    for row in session.execute(query.execution_options(yield_per=2000)):
        yield row.email, row.name, row.language, row.slug, row.status


def unsubscribe(session: Session, email: str, list_slug: str | None = None) -> list[str]:
    """Unsubscribe from one list, or from all and suppress; returns the lists changed."""
    sub = get_subscriber(session, email)
    query = (
        select(Subscription, MailingList.slug)
        .join(MailingList)
        .where(Subscription.subscriber_id == sub.id)
    )
    if list_slug is not None:
        ml = get_list(session, list_slug)
        query = query.where(Subscription.list_id == ml.id)
        if session.get(Subscription, (sub.id, ml.id)) is None:
            raise NotFound(f"{sub.email} is not subscribed to {list_slug!r}")
    changed = []
    now = utcnow()
    for subscription, slug in session.execute(query):
        if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
            subscription.status = SubscriptionStatus.UNSUBSCRIBED
            subscription.unsubscribed_at = now
            changed.append(slug)
    if list_slug is None:
        suppress(session, sub.email, SuppressionReason.UNSUBSCRIBED, "unsubscribed from all lists")
    session.flush()
    return changed


def suppress(
    session: Session,
    email: str,
    reason: SuppressionReason = SuppressionReason.MANUAL,
    detail: str = "",
) -> tuple[Suppression, bool]:
    """Put an address on the suppression list; (row, created). An existing row stays."""
    address = parse_address(email)
    existing = find_suppression(session, address)
    if existing is not None:
        return existing, False
    row = Suppression(email=address.given, email_hash=address.hash, reason=reason, detail=detail)
    session.add(row)
    session.add(
        SuppressionEvent(email_hash=address.hash, action="suppressed", reason=reason, detail=detail)
    )
    session.flush()
    return row, True


def unsuppress(session: Session, email: str, why: str) -> Suppression:
    """Lift a suppression; ``why`` is recorded. Raises NotFound if there is none."""
    address = parse_address(email)
    why = why.strip()
    if not why:
        raise InvalidInput("--reason", "say why the suppression is lifted; it is recorded")
    row = find_suppression(session, address)
    if row is None:
        raise NotFound(f"{address.given} is not suppressed")
    if row.reason == SuppressionReason.ERASED:
        raise InvalidInput("email", f"{address.given} was erased; it cannot be unsuppressed")
    session.add(
        SuppressionEvent(
            email_hash=address.hash, action="unsuppressed", reason=row.reason, detail=why
        )
    )
    session.delete(row)
    session.flush()
    return row


def history(session: Session, email: str) -> list[SuppressionEvent]:
    address = parse_address(email)
    return list(
        session.scalars(
            select(SuppressionEvent)
            .where(SuppressionEvent.email_hash == address.hash)
            .order_by(SuppressionEvent.id)
        )
    )


def erase(session: Session, email: str) -> bool:
    """Delete everything personal about an address; keep only its hash as a suppression.

    Returns whether a subscriber was found. The hashed suppression is written
    either way, so a later import cannot bring the address back.
    """
    address = parse_address(email)
    sub = session.scalar(select(Subscriber).where(Subscriber.email_normalized == address.key))
    if sub is not None:
        session.delete(sub)
    supp = find_suppression(session, address)
    if supp is None:
        supp = Suppression(email_hash=address_hash(address.key), reason=SuppressionReason.ERASED)
        session.add(supp)
    else:
        supp.detail = f"was {supp.reason}" if supp.reason != SuppressionReason.ERASED else ""
        supp.reason = SuppressionReason.ERASED
    session.add(
        SuppressionEvent(
            email_hash=address.hash,
            action="suppressed",
            reason=SuppressionReason.ERASED,
            detail="erased on request",
        )
    )
    supp.email = None
    session.flush()
    return sub is not None
