"""CSV export in the import's own columns, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import Session

from subscribers.csvio import KNOWN, safe_cell
from subscribers.lists import get_list
from subscribers.members import check_status
from subscribers.models import Subscriber, Subscription


def _members(session: Session, list_slug: str | None, status: str | None) -> Select[Any]:
    query = select(Subscriber.id)
    if list_slug is not None or status is not None:
        query = query.join(Subscription, Subscription.subscriber_id == Subscriber.id)
    if list_slug is not None:
        query = query.where(Subscription.list_id == get_list(session, list_slug).id)
    if status is not None:
        query = query.where(Subscription.status == check_status(status))
    return query.distinct()


def attribute_keys(session: Session, ids: Select[Any]) -> list[str]:
    """Every attribute name in use among the selected subscribers, sorted."""
    members = ids.subquery()
    if session.get_bind().dialect.name == "postgresql":
        key = func.jsonb_object_keys(Subscriber.attributes)
        rows = session.scalars(
            select(key).where(Subscriber.id.in_(select(members.c.id))).distinct()
        )
    else:
        each = func.json_each(Subscriber.attributes).table_valued("key")
        rows = session.scalars(
            select(each.c.key)
            .select_from(Subscriber)
            .join(each, true())
            .where(Subscriber.id.in_(select(members.c.id)))
            .distinct()
        )
    return sorted(k for k in rows if k.lower() not in KNOWN)


def export_rows(
    session: Session, list_slug: str | None = None, status: str | None = None
) -> Iterator[list[str]]:
    """The header, then one row per subscriber, streamed."""
    ids = _members(session, list_slug, status)
    keys = attribute_keys(session, ids)
    yield ["email", "name", "language", *keys]
    members = ids.subquery()
    query = (
        select(Subscriber.email, Subscriber.name, Subscriber.language, Subscriber.attributes)
        .where(Subscriber.id.in_(select(members.c.id)))
        .order_by(Subscriber.email_normalized)
        .execution_options(yield_per=2000)
    )
    for email, name, language, attrs in session.execute(query):
        attrs = attrs or {}
        yield [
            safe_cell(str(v))
            for v in (email, name, language or "", *(attrs.get(k, "") for k in keys))
        ]


def export_csv(
    session: Session, out: TextIO, list_slug: str | None = None, status: str | None = None
) -> int:
    """Write the CSV to ``out``; returns the number of subscribers written."""
    writer = csv.writer(out, lineterminator="\r\n")
    count = -1
    for count, row in enumerate(export_rows(session, list_slug, status)):  # noqa: B007
        writer.writerow(row)
    return count
