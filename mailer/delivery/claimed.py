"""A claimed ledger row, with what its message needs of the subscriber."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailer.campaigns.models import DeliveryStatus


@dataclass(frozen=True)
class Claimed:
    id: int
    subscriber_id: int | None
    language: str
    attempts: int  # before this one
    created_at: datetime
    email: str | None
    name: str
    attributes: dict[str, Any]
    email_hash: str | None
    subscription: str | None
    suppressed: bool
    status: str = DeliveryStatus.QUEUED  # queued or deferred: what to return to
    link_key: str | None = None


def attributes_of(value: Any) -> dict[str, Any]:
    """A subscriber's attributes as read back: a dict, JSON text, or nothing (NULL, null)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        loaded = json.loads(value)
        return dict(loaded) if isinstance(loaded, dict) else {}
    return {}
