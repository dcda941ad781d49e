"""API tokens: shown once when made, stored as a SHA-256 hash, revocable.

A token looks like ``mlr_<43 random characters>``; the prefix tells a leaked
token apart in logs and secret scanners, and is all a listing shows.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.accounts.errors import AccountError
from mailer.accounts.models import ApiToken, User
from mailer.accounts.sessions import digest
from mailer.accounts.users import get_user
from subscribers.errors import NotFound
from subscribers.models import utcnow

PREFIX = "mlr_"


def create_token(session: Session, email: str, name: str) -> tuple[ApiToken, str]:
    """(the stored row, the token itself: shown to the user once, never stored)."""
    user = get_user(session, email)
    name = name.strip()
    if not name or len(name) > 100 or any(c in name for c in "\r\n\x00"):
        raise AccountError("--name: one line of 1 to 100 characters, such as 'ci'")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=digest(token), prefix=token[:12])
    session.add(row)
    session.flush()
    return row, token


def token_user(session: Session, token: str) -> User | None:
    """The user a bearer token acts as, or None (unknown, revoked, user disabled)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    row.last_used_at = utcnow()
    return user


def list_tokens(session: Session) -> list[tuple[ApiToken, str]]:
    rows = session.execute(
        select(ApiToken, User.email).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    )
    return [(t, email) for t, email in rows.all()]


def revoke_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id} (see `mailer tokens ls`)")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()
    return row
