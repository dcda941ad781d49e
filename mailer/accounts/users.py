"""Users: create, list, change role, disable, set a password, log in.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106). A new
user gets a one-time link to set their password: the link signs the user id
with a fingerprint of the current password hash and last login, so it stops
working the moment it is used (either changes).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer.accounts.errors import AccountError, LoginFailed
from mailer.accounts.models import ApiToken, Role, User
from mailer.accounts.sessions import revoke_all
from subscribers.addresses import parse_address
from subscribers.errors import NotFound
from subscribers.models import utcnow

HASHER = PasswordHasher()
MIN_PASSWORD = 10
LINK_MAX_AGE = timedelta(days=3)
# Verified when the address is unknown too, so a wrong address costs as much as a wrong password.
_DUMMY_HASH = HASHER.hash("not a password of anyone")


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"role: {role!r} is not a role (admin, editor or viewer)") from None


def _key(email: str) -> str:
    return parse_address(email).key


def login_key(email: str) -> str:
    """The account a login form names, as authenticate finds it: what the login
    throttle counts, so another spelling of one address (``Ｅxample.org``) is
    the same account, not a fresh allowance of guesses."""
    try:
        return _key(email)
    except Exception:
        return email.strip().lower()


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == _key(email)))
    if user is None:
        raise NotFound(f"no user {email!r} (see `mailer users ls`)")
    return user


def create_user(session: Session, email: str, role: str) -> User:
    key = _key(email)
    r = check_role(role)
    if session.scalar(select(User.id).where(User.email == key)) is not None:
        raise AccountError(f"a user {key!r} already exists")
    user = User(email=key, role=r.value, password_hash="", disabled=False)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def set_role(session: Session, email: str, role: str) -> User:
    """A new role ends the user's console sessions: a page or form opened under
    the old role must not keep acting with it; they log in again."""
    user = get_user(session, email)
    new = check_role(role).value
    if new != user.role:
        user.role = new
        revoke_all(session, user)
    session.flush()
    return user


def set_disabled(session: Session, email: str, disabled: bool = True) -> User:
    """A disabled user cannot log in; their sessions and API tokens are revoked
    for good, so enabling them again does not bring back a session or token
    that may have leaked (they log in again; an admin makes new tokens)."""
    user = get_user(session, email)
    user.disabled = disabled
    if disabled:
        revoke_all(session, user)
        revoke_user_tokens(session, user)
    session.flush()
    return user


def revoke_user_tokens(session: Session, user: User) -> int:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_password(session: Session, user: User, password: str) -> None:
    """Also ends every console session of the user: whoever had a session (or
    stole one) under the old password loses it. The caller opens a new one for
    the person who just set it, if any."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("password: at most 1024 characters")
    user.password_hash = HASHER.hash(password)
    revoke_all(session, user)
    session.flush()


def authenticate(session: Session, email: str, password: str) -> User:
    """The user whose password this is; LoginFailed with one message for every reason."""
    try:
        key = _key(email)
    except Exception:
        key = ""
    user = session.scalar(select(User).where(User.email == key)) if key else None
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        HASHER.verify(stored, password)
        ok = user is not None and bool(user.password_hash)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        raise LoginFailed("wrong email address or password")
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


def _fingerprint(user: User) -> str:
    state = f"{user.password_hash}|{user.last_login_at}|{user.disabled}"
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"mailer.accounts.{purpose}")


def one_time_token(secret: str, user: User, purpose: str = "password") -> str:
    """For a set-password ("password") or login ("login") link; used once."""
    return _serializer(secret, purpose).dumps([user.id, _fingerprint(user)])


def redeem(session: Session, secret: str, token: str, purpose: str = "password") -> User:
    """The user a one-time link names, if it is still good; LoginFailed otherwise."""
    try:
        user_id, fingerprint = _serializer(secret, purpose).loads(
            token, max_age=int(LINK_MAX_AGE.total_seconds())
        )
    except SignatureExpired:
        raise LoginFailed("this link has expired; ask an admin for a new one") from None
    except (BadSignature, ValueError, TypeError):
        raise LoginFailed("this link is not valid (it may have been used already)") from None
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.disabled or fingerprint != _fingerprint(user):
        raise LoginFailed("this link is not valid (it may have been used already)")
    return user
