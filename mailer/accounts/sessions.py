"""Console sessions: a random token in a signed cookie, its hash in ``user_sessions``.

A session ends when it expires, when the user logs out, when an admin
disables the user, or when it is revoked; each is checked on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer.accounts.models import User, UserSession
from subscribers.models import utcnow

LIFETIME = timedelta(hours=12)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, ip: str, now: datetime | None = None) -> str:
    """A new session for ``user``; returns the token for the cookie (not stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=digest(token),
            user_id=user.id,
            ip=ip[:64],
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    session.flush()
    return token


def session_user(session: Session, token: str, now: datetime | None = None) -> User | None:
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.token_hash == digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    return user


def revoke(session: Session, token: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user: User) -> int:
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def csrf_token(secret: str, token: str) -> str:
    """The form token of a session: an HMAC of its cookie token, so it dies with it."""
    return hmac.new(secret.encode(), b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, token: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(secret, token), given)
