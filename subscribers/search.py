"""Finding subscribers page by page, for the console and the API."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from subscribers.lists import get_list
from subscribers.members import check_status
from subscribers.models import Subscriber, Subscription


@dataclass(frozen=True)
class Found:
    id: int
    email: str
    name: str
    language: str | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    session: Session,
    query: str = "",
    list_slug: str | None = None,
    status: str | None = None,
    limit: int = 50,
    after: int | None = None,
) -> list[Found]:
    """Subscribers whose address or name contains ``query``, in id order after ``after``."""
    stmt = select(Subscriber.id, Subscriber.email, Subscriber.name, Subscriber.language)
    if list_slug or status:
        stmt = stmt.join(Subscription, Subscription.subscriber_id == Subscriber.id)
        if list_slug:
            stmt = stmt.where(Subscription.list_id == get_list(session, list_slug).id)
        if status:
            stmt = stmt.where(Subscription.status == check_status(status))
        stmt = stmt.distinct()
    q = query.strip().lower()[:254]
    if q:
        stmt = stmt.where(
            or_(
                Subscriber.email_normalized.like(_like(q), escape="\\"),
                Subscriber.name.ilike(_like(q), escape="\\"),
            )
        )
    if after is not None:
        stmt = stmt.where(Subscriber.id > after)
    rows = session.execute(stmt.order_by(Subscriber.id).limit(limit))
    return [Found(*row) for row in rows.all()]
