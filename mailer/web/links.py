"""The links in mail: confirm, unsubscribe (RFC 8058 one-click), preferences.

Every link carries a signed token (a salt per purpose); a forged token, one
for another purpose, and one whose subscriber is gone all get the same
answer. Unsubscribe changes nothing on GET; on POST it unsubscribes from the
token's list, commits, then answers 200 with no redirect — with any body,
urlencoded or multipart, and no cookie, session or CSRF token (RFC 8058 3).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mailer.confirmation import confirmation_message
from mailer.db import session_scope
from mailer.web.pages import language, message, page, state
from subscribers.consent import Confirmation, confirm, preferences, unsubscribe_from
from subscribers.consent import update_preferences as save_preferences
from subscribers.errors import InvalidInput
from subscribers.models import MailingList, Subscriber
from subscribers.tokens import BadToken, ExpiredToken, Purpose, TokenClaims

router = APIRouter(include_in_schema=False)


def _invalid(request: Request) -> HTMLResponse:
    return message(language(request), "invalid_title", "invalid", status=404, error=True)


def _who(request: Request, claims: TokenClaims) -> tuple[Subscriber, MailingList] | None:
    """The subscriber and list a token names, if both still exist."""
    if claims.list_id is None:
        return None
    with session_scope(state(request).db) as s:
        sub = s.get(Subscriber, claims.subscriber_id)
        ml = s.get(MailingList, claims.list_id)
        if sub is None or ml is None:
            return None
        s.expunge_all()
        return sub, ml


def _preferences_url(request: Request, subscriber_id: int) -> str:
    token = state(request).tokens.make(Purpose.PREFERENCES, subscriber_id)
    return f"/preferences/{token}"


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_link(token: str, request: Request) -> HTMLResponse:
    web = state(request)
    try:
        claims = web.tokens.read(Purpose.CONFIRM, token)
    except ExpiredToken:
        return message(
            language(request),
            "expired_title",
            "expired",
            status=410,
            fmt={"hours": 72},
            resend_url=f"/confirm/{token}/resend",
        )
    except BadToken:
        return _invalid(request)
    who = _who(request, claims)
    if who is None:
        return message(language(request), "gone_title", "gone", status=404)
    sub, ml = who
    lang = language(request, sub.language)
    with session_scope(web.db) as s:
        outcome = confirm(s, sub.id, ml.id)
    fmt = {"list": ml.title}
    prefs = _preferences_url(request, sub.id)
    if outcome is Confirmation.CONFIRMED:
        return message(lang, "confirmed_title", "confirmed", fmt=fmt, preferences_url=prefs)
    if outcome is Confirmation.ALREADY:
        return message(lang, "already_title", "already", fmt=fmt, preferences_url=prefs)
    return message(lang, "gone_title", "gone", status=404)


@router.post("/confirm/{token}/resend", response_class=HTMLResponse)
def resend(token: str, request: Request) -> HTMLResponse:
    web = state(request)
    try:
        claims = web.tokens.read(Purpose.CONFIRM, token)
    except ExpiredToken as exc:
        claims = exc.claims
    except BadToken:
        return _invalid(request)
    who = _who(request, claims)
    lang = language(request)
    if who is None:
        return message(lang, "gone_title", "gone", status=404)
    sub, ml = who
    if not web.per_email.allow(sub.email_normalized):
        return message(lang, "invalid_title", "too_many", status=429, error=True)
    new = web.tokens.make(Purpose.CONFIRM, sub.id, ml.id)
    url = f"{web.settings.base_url.rstrip('/')}/confirm/{new}"
    web.send(confirmation_message(web.settings, ml.title, sub.email, sub.name, sub.language, url))
    return message(language(request, sub.language), "resent_title", "resent")


def _unsubscribe_claims(request: Request, token: str) -> tuple[Subscriber, MailingList] | None:
    try:
        claims = state(request).tokens.read(Purpose.UNSUBSCRIBE, token)
    except BadToken:
        return None
    return _who(request, claims)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    who = _unsubscribe_claims(request, token)
    if who is None:
        return _invalid(request)
    sub, ml = who
    lang = language(request, sub.language)
    return page(
        "unsubscribe",
        lang,
        "unsubscribe_title",
        fmt={"list": ml.title},
        email=sub.email,
        list_title=ml.title,
        action=f"/unsubscribe/{token}",
        preferences_url=_preferences_url(request, sub.id),
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_post(token: str, request: Request) -> HTMLResponse:
    who = _unsubscribe_claims(request, token)
    if who is None:
        return _invalid(request)
    sub, ml = who
    try:
        form = await request.form()
        everything = form.get("scope") == "all"
    except Exception:  # any body (or none) means "unsubscribe": RFC 8058 asks no more
        everything = False
    with session_scope(state(request).db) as s:  # committed before the reply
        unsubscribe_from(s, sub.id, None if everything else ml.id)
    lang = language(request, sub.language)
    fmt = {"email": sub.email, "list": ml.title}
    return message(
        lang,
        "unsubscribed_title",
        "unsubscribed_all" if everything else "unsubscribed",
        fmt=fmt,
        preferences_url=_preferences_url(request, sub.id),
    )


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(token: str, request: Request) -> HTMLResponse:
    return _preferences(token, request, saved=False, problem=None)


def _preferences(
    token: str, request: Request, saved: bool, problem: str | None, status: int = 200
) -> HTMLResponse:
    web = state(request)
    try:
        claims = web.tokens.read(Purpose.PREFERENCES, token)
    except BadToken:
        return _invalid(request)
    with session_scope(web.db) as s:
        prefs = preferences(s, claims.subscriber_id)
        if prefs is None:
            return _invalid(request)
        s.expunge_all()
    return page(
        "preferences",
        language(request, prefs.language),
        "preferences_title",
        status=status,
        prefs=prefs,
        action=f"/preferences/{token}",
        saved=saved,
        problem=problem,
    )


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def preferences_post(token: str, request: Request) -> HTMLResponse:
    web = state(request)
    try:
        claims = web.tokens.read(Purpose.PREFERENCES, token)
    except BadToken:
        return _invalid(request)
    form = await request.form()
    wanted = {int(v) for v in form.getlist("lists") if isinstance(v, str) and v.isdigit()}
    name = form.get("name")
    lang = form.get("language")
    try:
        with session_scope(web.db) as s:
            if not save_preferences(
                s,
                claims.subscriber_id,
                name=name if isinstance(name, str) else "",
                language=lang if isinstance(lang, str) else "",
                list_ids=wanted,
            ):
                return _invalid(request)
    except InvalidInput as exc:
        return _preferences(token, request, saved=False, problem=str(exc), status=422)
    return _preferences(token, request, saved=True, problem=None)
