"""Changing what is known about a subscriber: name, language, attributes.

Shared by `mailer subscribers edit` and ``PATCH /api/v1/subscribers/…``.
Every value is checked with the same rules as adding and importing
(subscribers.fields) before anything is changed, so a bad value changes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from subscribers.errors import NotFound
from subscribers.fields import attribute_key, check_attribute, check_language, check_name
from subscribers.members import get_subscriber
from subscribers.models import Subscriber


def subscriber_by_ref(session: Session, ref: str) -> Subscriber:
    """The subscriber ``ref`` names: their id (digits) or their address."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit():
        sub = session.get(Subscriber, int(ref)) if len(ref) < 19 else None
        if sub is None:
            raise NotFound(f"no subscriber with the id {ref}")
        return sub
    return get_subscriber(session, ref)


def edit_subscriber(
    session: Session,
    sub: Subscriber,
    *,
    name: str | None = None,
    language: str | None = None,
    attributes: Mapping[str, str | None] | None = None,
) -> Subscriber:
    """Change the fields given; None leaves one as it is.

    ``name=""`` clears the name and ``language=""`` the language. Attributes
    are merged: a key with text sets it, a key with None removes it, keys
    not given are kept.
    """
    new_name = check_name(name) if name is not None else sub.name
    new_language = check_language(language) if language is not None else sub.language
    merged = dict(sub.attributes or {})
    for raw, value in (attributes or {}).items():
        key = attribute_key(raw)
        if value is None:
            merged.pop(key, None)
        else:
            # Stripped as add_subscriber and the importer strip values.
            merged[key] = check_attribute(key, value).strip()
    sub.name = new_name
    sub.language = new_language
    sub.attributes = merged
    session.flush()
    return sub
