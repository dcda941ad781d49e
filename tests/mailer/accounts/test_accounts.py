"""Users, passwords, one-time links, sessions, API tokens, the login throttle."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.accounts import sessions, tokens, users
from mailer.accounts.errors import AccountError, LoginFailed
from mailer.accounts.models import ApiToken, Role, User
from mailer.accounts.throttle import LoginThrottle
from subscribers.models import utcnow

SECRET = "accounts-test-secret"


def test_a_user_sets_a_password_once_and_logs_in(session: Session) -> None:
    user = users.create_user(session, "Editor@Example.org", "editor")
    assert user.email == "editor@example.org" and user.password_hash == ""
    link = users.one_time_token(SECRET, user)
    with pytest.raises(LoginFailed):  # no password yet: nobody logs in
        users.authenticate(session, "editor@example.org", "")
    redeemed = users.redeem(session, SECRET, link)
    users.set_password(session, redeemed, "correct horse battery")
    assert user.password_hash.startswith("$argon2id$")
    assert users.authenticate(session, "EDITOR@example.org", "correct horse battery") is user
    with pytest.raises(LoginFailed, match="not valid"):
        users.redeem(session, SECRET, link)  # used: the password changed
    with pytest.raises(LoginFailed, match="wrong email address or password"):
        users.authenticate(session, "editor@example.org", "wrong password!")
    with pytest.raises(LoginFailed, match="wrong email address or password"):
        users.authenticate(session, "nobody@example.org", "correct horse battery")


def test_bad_input_is_refused(session: Session) -> None:
    with pytest.raises(AccountError, match=r"^role: .owner. is not a role"):
        users.create_user(session, "a@example.org", "owner")
    user = users.create_user(session, "a@example.org", "viewer")
    with pytest.raises(AccountError, match="already exists"):
        users.create_user(session, "A@example.org", "viewer")
    with pytest.raises(AccountError, match="at least 10"):
        users.set_password(session, user, "short")
    with pytest.raises(LoginFailed):
        users.redeem(session, SECRET, "forged.token")
    with pytest.raises(LoginFailed):
        users.redeem(session, "another secret", users.one_time_token(SECRET, user))
    with pytest.raises(LoginFailed):  # a password link is not a login link
        users.redeem(session, SECRET, users.one_time_token(SECRET, user), "login")


def test_sessions_expire_and_are_revoked_and_die_with_a_disabled_user(session: Session) -> None:
    user = users.create_user(session, "s@example.org", "admin")
    token = sessions.open_session(session, user, "10.0.0.1")
    assert sessions.session_user(session, token) is user
    assert (
        sessions.session_user(session, token, utcnow() + sessions.LIFETIME + timedelta(1)) is None
    )
    assert sessions.session_user(session, token + "x") is None
    users.set_disabled(session, "s@example.org")
    assert sessions.session_user(session, token) is None
    users.set_disabled(session, "s@example.org", False)
    sessions.revoke(session, token)
    assert sessions.session_user(session, token) is None
    assert sessions.csrf_ok(SECRET, token, sessions.csrf_token(SECRET, token))
    assert not sessions.csrf_ok(SECRET, token, sessions.csrf_token(SECRET, "other"))


def test_api_tokens_are_stored_hashed_and_revocable(session: Session) -> None:
    user = users.create_user(session, "ci@example.org", "editor")
    row, token = tokens.create_token(session, "ci@example.org", "ci")
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and row.prefix == token[:12]
    assert tokens.token_user(session, token) is user
    assert tokens.token_user(session, token[:-1]) is None
    tokens.revoke_token(session, row.id)
    assert tokens.token_user(session, token) is None
    with pytest.raises(AccountError, match="--name"):
        tokens.create_token(session, "ci@example.org", "two\nlines")


def test_roles_rank() -> None:
    assert Role.ADMIN.allows(Role.EDITOR) and Role.EDITOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.EDITOR) and not Role.EDITOR.allows(Role.ADMIN)
    assert {r.value for r in Role} == {"admin", "editor", "viewer"}
    assert User.__tablename__ == "users"


def test_throttle_counts_attempts_sent_at_once() -> None:
    """Many logins at once: each is counted before its (slow) password check."""
    from concurrent.futures import ThreadPoolExecutor

    t = LoginThrottle(per_account=5, per_client=20, seconds=60)
    with ThreadPoolExecutor(16) as pool:
        allowed = list(pool.map(lambda i: t.attempt("a@example.org", f"10.0.0.{i}"), range(40)))
    assert allowed.count(True) == 5
    t2 = LoginThrottle(per_account=2, per_client=5, seconds=60)
    for _ in range(4):  # successes are taken back
        assert t2.attempt("b@example.org", "1.1.1.1")
        t2.succeeded("b@example.org", "1.1.1.1")
    assert t2.attempt("b@example.org", "1.1.1.1") and t2.attempt("b@example.org", "1.1.1.1")
    assert not t2.attempt("b@example.org", "1.1.1.1")


def test_throttle_counts_failures_per_account_and_per_client() -> None:
    now = [0.0]
    t = LoginThrottle(per_account=3, per_client=5, seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert not t.blocked("a@example.org", "1.1.1.1")
        t.failed("A@example.org", "1.1.1.1")
    assert t.blocked("a@example.org", "2.2.2.2")  # the account, from anywhere
    assert not t.blocked("b@example.org", "2.2.2.2")
    t.failed("b@example.org", "1.1.1.1")
    t.failed("c@example.org", "1.1.1.1")
    assert t.blocked("d@example.org", "1.1.1.1")  # the client, for any account
    now[0] = 61.0
    assert not t.blocked("a@example.org", "1.1.1.1")
