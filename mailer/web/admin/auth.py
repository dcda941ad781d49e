"""Logging in and out, setting a password from a one-time link, the demo's login link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mailer.accounts import audit, sessions, users
from mailer.accounts.audit import Actor
from mailer.accounts.errors import AccountError, LoginFailed
from mailer.db import session_scope
from mailer.web.admin.render import page
from mailer.web.admin.session import (
    clear_session_cookie,
    optional_user,
    session_token,
    set_session_cookie,
)
from mailer.web.staff import client_ip, staff, web_state
from subscribers.models import utcnow

router = APIRouter()


def _safe_next(target: str) -> str:
    # Only our own pages: never an absolute or scheme-relative URL.
    if target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin/"


@router.get("/login")
def login_form(request: Request, next: str = "/admin/") -> Response:
    return page(request, "login.html", None, "Log in", next=_safe_next(next), error="")


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "/admin/",
) -> Response:
    state, web, ip = staff(request), web_state(request), client_ip(request)
    account = users.login_key(email)
    if not state.throttle.attempt(account, ip):
        return page(
            request,
            "login.html",
            None,
            "Log in",
            code=429,
            next=_safe_next(next),
            error="Too many failed attempts. Wait 15 minutes and try again.",
        )
    try:
        with session_scope(web.db) as s:
            user = users.authenticate(s, email, password)
            token = sessions.open_session(s, user, ip)
            audit.record(s, Actor.of(user, ip), "login", user.email)
    except LoginFailed as exc:
        with session_scope(web.db) as s:
            audit.record(s, Actor(None, "(anonymous)", ip), "login.failed", email[:254])
        return page(
            request, "login.html", None, "Log in", code=401, next=_safe_next(next), error=str(exc)
        )
    state.throttle.succeeded(account, ip)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, state, token)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    token = session_token(request)
    user = optional_user(request)
    if token is not None:
        with session_scope(web_state(request).db) as s:
            sessions.revoke(s, token)
            if user is not None:
                audit.record(s, Actor.of(user, client_ip(request)), "logout", user.email)
    response = RedirectResponse("/admin/login", status_code=303)
    clear_session_cookie(response, staff(request))
    return response


@router.get("/password/{token}")
def password_form(request: Request, token: str) -> Response:
    with session_scope(web_state(request).db) as s:
        try:
            user = users.redeem(s, staff(request).secret, token)
        except LoginFailed as exc:
            return page(request, "message.html", None, "Link not valid", 404, text=str(exc))
        email = user.email
    return page(request, "password.html", None, "Set your password", email=email, error="")


@router.post("/password/{token}")
def set_password(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=1024)] = "",
    again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    state, ip = staff(request), client_ip(request)
    try:
        with session_scope(web_state(request).db) as s:
            user = users.redeem(s, state.secret, token)
            email = user.email
            if password != again:
                raise AccountError("the two passwords differ")
            users.set_password(s, user, password)
            users.authenticate(s, user.email, password)
            session = sessions.open_session(s, user, ip)
            audit.record(s, Actor.of(user, ip), "password.set", user.email)
    except LoginFailed as exc:
        return page(request, "message.html", None, "Link not valid", 404, text=str(exc))
    except AccountError as exc:
        return page(
            request, "password.html", None, "Set your password", 422, email=email, error=str(exc)
        )
    response = RedirectResponse("/admin/", status_code=303)
    set_session_cookie(response, state, session)
    return response


@router.get("/login-link/{token}")
def login_link(request: Request, token: str) -> Response:
    """A one-time login (`mailer demo --serve`): confirm with a button, no GET side effects."""
    return page(request, "login_link.html", None, "Log in", token=token)


@router.post("/login-link/{token}")
def use_login_link(request: Request, token: str) -> Response:
    state, ip = staff(request), client_ip(request)
    try:
        with session_scope(web_state(request).db) as s:
            user = users.redeem(s, state.secret, token, "login")
            user.last_login_at = utcnow()
            session = sessions.open_session(s, user, ip)
            audit.record(s, Actor.of(user, ip), "login.link", user.email)
    except LoginFailed as exc:
        return page(request, "message.html", None, "Link not valid", 404, text=str(exc))
    response = RedirectResponse("/admin/", status_code=303)
    set_session_cookie(response, state, session)
    return response
