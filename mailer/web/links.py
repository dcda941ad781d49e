"""The links in mail: confirm, unsubscribe (RFC 8058 one-click), preferences.

Every link carries a signed token (a salt per purpose) naming a subscriber
by id and key; a forged token, one for another purpose, and one whose
subscriber is gone (or whose id now belongs to someone else) all get the
same answer. GET never changes anything, since mail scanners follow links:
confirm and unsubscribe show a page whose button POSTs. Unsubscribe's POST
unsubscribes from the token's list, commits, then answers 200 with no
redirect — with any body, urlencoded or multipart, and no cookie, session or
CSRF token (RFC 8058 3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.utils import parseaddr

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from mailer.db import session_scope
from mailer.i18n import words
from mailer.outbox import enqueue
from mailer.web.limits import address_key
from mailer.web.pages import language, message, page, state, too_many
from mailer.web.subscribe import client_address as _client
from subscribers.consent import Confirmation, confirm, preferences, unsubscribe_from
from subscribers.consent import update_preferences as save_preferences
from subscribers.errors import InvalidInput
from subscribers.models import MailingList, Subscriber
from subscribers.tokens import BadToken, ExpiredToken, Purpose, TokenClaims

router = APIRouter(include_in_schema=False)
_DIGITS = re.compile(r"[0-9]{1,18}")


def _invalid(request: Request) -> HTMLResponse:
    return message(language(request), "invalid_title", "invalid", status=404, error=True)


def _subscriber(s: Session, claims: TokenClaims) -> Subscriber | None:
    """The subscriber a token names, if it is still the same person."""
    sub = s.get(Subscriber, claims.subscriber_id)
    return sub if sub is not None and claims.fits(sub.link_key) else None


def _who(request: Request, claims: TokenClaims) -> tuple[Subscriber, MailingList] | None:
    """The subscriber and list a token names, if both still exist."""
    if claims.list_id is None:
        return None
    with session_scope(state(request).db) as s:
        sub = _subscriber(s, claims)
        ml = s.get(MailingList, claims.list_id)
        if sub is None or ml is None:
            return None
        s.expunge_all()
        return sub, ml


def _preferences_url(request: Request, sub: Subscriber) -> str:
    token = state(request).tokens.make(Purpose.PREFERENCES, sub.id, key=sub.link_key)
    return f"/preferences/{token}"


def _confirm_claims(request: Request, token: str) -> TokenClaims | HTMLResponse:
    try:
        return state(request).tokens.read(Purpose.CONFIRM, token)
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


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(token: str, request: Request) -> HTMLResponse:
    """A page with the button that confirms; following the link changes nothing."""
    claims = _confirm_claims(request, token)
    if isinstance(claims, HTMLResponse):
        return claims
    who = _who(request, claims)
    if who is None:
        return message(language(request), "gone_title", "gone", status=404)
    sub, ml = who
    lang = language(request, sub.language)
    return message(
        lang,
        "confirm_title",
        "confirm_page",
        fmt={"list": ml.title},
        button_url=f"/confirm/{token}",
        button_label=words(lang)["confirm_button"],
    )


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm_link(token: str, request: Request) -> HTMLResponse:
    web = state(request)
    claims = _confirm_claims(request, token)
    if isinstance(claims, HTMLResponse):
        return claims
    who = _who(request, claims)
    if who is None:
        return message(language(request), "gone_title", "gone", status=404)
    sub, ml = who
    lang = language(request, sub.language)
    with session_scope(web.db) as s:
        outcome = confirm(s, sub.id, ml.id)
    fmt = {"list": ml.title}
    prefs = _preferences_url(request, sub)
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
    key = address_key(sub.email_normalized)
    if not web.per_email.allow(key):
        return too_many(lang, web.per_email.retry_after(key))
    with session_scope(web.db) as s:  # the outbox sends it, as for a subscribe request
        enqueue(s, ml.id, sub.email, "", sub.language or "", _client(request), f"resend:{ml.slug}")
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
        preferences_url=_preferences_url(request, sub),
        sender=_sender(request),
    )


def _sender(request: Request) -> str:
    """Who "everything" stops: the From name, else the organization, else the address."""
    settings = state(request).settings
    name, address = parseaddr(settings.from_address)
    return name or settings.organization or address


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
        preferences_url=_preferences_url(request, sub),
        # Leaving one list can be undone on its form; "everything" suppresses.
        resubscribe_url=None if everything or not ml.public else f"/lists/{ml.slug}/subscribe",
    )


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(token: str, request: Request) -> HTMLResponse:
    return _preferences(token, request, saved=False, problem=None)


def _preferences(
    token: str, request: Request, saved: bool, problem: InvalidInput | None, status: int = 200
) -> HTMLResponse:
    web = state(request)
    try:
        claims = web.tokens.read(Purpose.PREFERENCES, token)
    except BadToken:
        return _invalid(request)
    with session_scope(web.db) as s:
        prefs = preferences(s, claims.subscriber_id) if _subscriber(s, claims) else None
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
        problem=problem.reason if problem else None,
        field=problem.field if problem else None,
    )


def _list_ids(values: Sequence[object]) -> set[int]:
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    bad = [v for v in values if not isinstance(v, str) or not _DIGITS.fullmatch(v)]
    if bad:
        raise InvalidInput("lists", f"{str(bad[0])[:40]!r} is not one of the newsletters shown")
    return {int(str(v)) for v in values}


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def preferences_post(token: str, request: Request) -> HTMLResponse:
    web = state(request)
    try:
        claims = web.tokens.read(Purpose.PREFERENCES, token)
    except BadToken:
        return _invalid(request)
    form = await request.form()
    name = form.get("name")
    lang = form.get("language")
    try:
        wanted = _list_ids(form.getlist("lists"))
        with session_scope(web.db) as s:
            if _subscriber(s, claims) is None or not save_preferences(
                s,
                claims.subscriber_id,
                name=name if isinstance(name, str) else "",
                language=lang if isinstance(lang, str) else "",
                list_ids=wanted,
            ):
                return _invalid(request)
    except InvalidInput as exc:
        return _preferences(token, request, saved=False, problem=exc, status=422)
    return _preferences(token, request, saved=True, problem=None)
