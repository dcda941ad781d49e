"""The audit log: every staff action, with who, what, when and from where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.accounts.models import AuditEntry, User


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (console or API) or the command line."""

    user_id: int | None
    email: str
    source: str  # the client address, or "cli"

    @classmethod
    def of(cls, user: User, source: str) -> Actor:
        return cls(user.id, user.email, source)


CLI = Actor(None, "cli", "cli")


def record(
    session: Session, actor: Actor, action: str, target: object = "", **detail: Any
) -> AuditEntry:
    entry = AuditEntry(
        user_id=actor.user_id,
        actor=actor.email,
        action=action,
        target=str(target)[:254],
        source=actor.source[:64],
        detail={
            k: v if isinstance(v, int | float | bool | None) else str(v) for k, v in detail.items()
        },
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session, limit: int = 100, before: int | None = None, actor: str | None = None
) -> list[AuditEntry]:
    """Newest first; ``before`` an entry id, for paging."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if actor:
        query = query.where(AuditEntry.actor == actor.strip().lower())
    return list(session.scalars(query))


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "source": entry.source,
        "detail": entry.detail,
    }
