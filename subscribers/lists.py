"""Mailing lists: create, look up, count, remove."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subscribers.errors import AlreadyExists, InvalidInput, ListNotFound
from subscribers.fields import CONTROL
from subscribers.models import MailingList, Subscription, SubscriptionStatus

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?")


@dataclass(frozen=True)
class ListSummary:
    slug: str
    title: str
    description: str
    double_opt_in: bool
    public: bool
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        # "name", as the API and `lists create NAME` call it; "slug" stays for
        # scripts written against the earlier output.
        return {
            "name": self.slug,
            "slug": self.slug,
            "title": self.title,
            "description": self.description,
            "double_opt_in": self.double_opt_in,
            "public": self.public,
            "counts": self.counts,
        }


def check_title(field: str, value: str, *, multiline: bool = False) -> str:
    """Titles and descriptions are shown on terminals and pages: no control characters."""
    allowed = "\n\t" if multiline else ""
    bad = next((ch for ch in value if CONTROL.match(ch) and ch not in allowed), None)
    if bad is not None:
        raise InvalidInput(field, f"contains the control character U+{ord(bad):04X}")
    return value


def check_slug(slug: str) -> str:
    if not _SLUG.fullmatch(slug):
        raise InvalidInput(
            "name",
            f"{slug!r} is not a valid list name: use lower-case letters, digits and "
            "hyphens (at most 100), starting and ending with a letter or digit",
        )
    return slug


def create_list(
    session: Session,
    slug: str,
    *,
    title: str | None = None,
    description: str = "",
    double_opt_in: bool = True,
    public: bool = True,
) -> MailingList:
    check_slug(slug)
    check_title("title", title or "")
    check_title("description", description, multiline=True)
    if session.scalar(select(MailingList.id).where(MailingList.slug == slug)) is not None:
        raise AlreadyExists(f"a list named {slug!r} already exists")
    ml = MailingList(
        slug=slug,
        title=title or slug,
        description=description,
        double_opt_in=double_opt_in,
        public=public,
    )
    session.add(ml)
    session.flush()
    return ml


def get_list(session: Session, slug: str) -> MailingList:
    ml = session.scalar(select(MailingList).where(MailingList.slug == slug))
    if ml is None:
        raise ListNotFound(f"no list named {slug!r}")
    return ml


def _counts(session: Session, list_ids: list[int]) -> dict[int, dict[str, int]]:
    counts = {lid: {s.value: 0 for s in SubscriptionStatus} for lid in list_ids}
    rows = session.execute(
        select(Subscription.list_id, Subscription.status, func.count())
        .where(Subscription.list_id.in_(list_ids))
        .group_by(Subscription.list_id, Subscription.status)
    )
    for list_id, status, n in rows:
        counts[list_id][status] = n
    return counts


def _summary(ml: MailingList, counts: dict[str, int]) -> ListSummary:
    return ListSummary(ml.slug, ml.title, ml.description, ml.double_opt_in, ml.public, counts)


def summarize_lists(session: Session) -> list[ListSummary]:
    lists = list(session.scalars(select(MailingList).order_by(MailingList.slug)))
    counts = _counts(session, [ml.id for ml in lists])
    return [_summary(ml, counts[ml.id]) for ml in lists]


def summarize_list(session: Session, slug: str) -> ListSummary:
    ml = get_list(session, slug)
    return _summary(ml, _counts(session, [ml.id])[ml.id])


def remove_list(session: Session, slug: str) -> None:
    """Delete a list and its subscriptions; the subscribers themselves stay.

    Something that still refers to the list (a campaign's delivery history)
    makes this an InvalidInput, never a database error.
    """
    ml = get_list(session, slug)
    try:
        with session.begin_nested():
            session.delete(ml)
            session.flush()
    except IntegrityError:
        raise InvalidInput(
            "list", f"{slug!r} is still referred to (by campaigns) and cannot be removed"
        ) from None
