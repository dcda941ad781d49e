"""Who is logged in to the console, and the CSRF check of every form.

The cookie holds a random session token signed with itsdangerous; the
database holds its hash, expiry and revocation. Cookies are HttpOnly,
SameSite=Lax, path /admin, and Secure when base_url is https.

CSRF: a logged-in form carries an HMAC of the session token; the login form
(no session yet) carries a random value also set in a short-lived cookie.
Both checks run on every POST to /admin, before the handler.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, Signer

from mailer.accounts import sessions
from mailer.accounts.models import Role, User
from mailer.db import session_scope
from mailer.web.staff import StaffState, staff, web_state

COOKIE = "mailer_session"
LOGIN_CSRF = "mailer_login_csrf"
PATH = "/admin"


class LoginRequired(Exception):
    """No valid session: the console sends the browser to the login page."""


class Forbidden(Exception):
    def __init__(self, needed: Role) -> None:
        super().__init__(f"this needs the {needed.value} role")
        self.needed = needed


class CsrfFailed(Exception):
    """A form arrived without the token of this session."""


def _signer(state: StaffState) -> Signer:
    return Signer(state.secret, salt="mailer.admin.session")


def set_session_cookie(response: Response, state: StaffState, token: str) -> None:
    response.set_cookie(
        COOKIE,
        _signer(state).sign(token).decode(),
        max_age=int(sessions.LIFETIME.total_seconds()),
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
    )


def clear_session_cookie(response: Response, state: StaffState) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, httponly=True, samesite="lax", secure=state.secure_cookies
    )


def session_token(request: Request) -> str | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        return _signer(staff(request)).unsign(raw).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def optional_user(request: Request) -> User | None:
    token = session_token(request)
    if token is None:
        return None
    with session_scope(web_state(request).db) as s:
        user = sessions.session_user(s, token)
        if user is not None:
            s.expunge(user)
    return user


def current_user(request: Request) -> User:
    user = optional_user(request)
    if user is None:
        raise LoginRequired()
    return user


def need(role: Role) -> Callable[[User], User]:
    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if not Role(user.role).allows(role):
            raise Forbidden(role)
        return user

    return check


Viewer = Annotated[User, Depends(need(Role.VIEWER))]
Editor = Annotated[User, Depends(need(Role.EDITOR))]
Admin = Annotated[User, Depends(need(Role.ADMIN))]


def csrf_for(request: Request) -> str:
    """The token the page's forms carry: the session's, or the login cookie's."""
    token = session_token(request)
    if token is not None:
        return sessions.csrf_token(staff(request).secret, token)
    existing = request.cookies.get(LOGIN_CSRF, "")
    if len(existing) == 43:
        return existing
    fresh: str = request.scope.setdefault("mailer.login_csrf", secrets.token_urlsafe(32))
    return fresh


def set_login_csrf(request: Request, response: Response) -> None:
    fresh = request.scope.get("mailer.login_csrf")
    if fresh:
        response.set_cookie(
            LOGIN_CSRF,
            fresh,
            max_age=3600,
            path=PATH,
            httponly=True,
            samesite="lax",
            secure=staff(request).secure_cookies,
        )


async def check_csrf(request: Request) -> None:
    """Run before every /admin handler; only unsafe methods are checked."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    given = request.headers.get("x-csrf-token", "")
    if not given:
        form = await request.form()
        value = form.get("csrf", "")
        given = value if isinstance(value, str) else ""
    token = session_token(request)
    if token is not None:
        if given and sessions.csrf_ok(staff(request).secret, token, given):
            return
    else:
        expected = request.cookies.get(LOGIN_CSRF, "")
        if expected and given and hmac.compare_digest(expected, given):
            return
    raise CsrfFailed()
