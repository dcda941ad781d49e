"""Subscribing: the form per list and the JSON endpoint.

Both answer the same way whatever the address's state (new, already
subscribed, suppressed), so they reveal nothing about who is on a list.
Double opt-in lists get a confirmation email; single opt-in lists confirm at
once. Both are rate-limited per client address and per email address.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from mailer.confirmation import confirmation_message
from mailer.db import session_scope
from mailer.web.app import WebState
from mailer.web.pages import language, message, page, state
from subscribers.addresses import parse_address
from subscribers.consent import Next, request_subscription
from subscribers.errors import InvalidInput
from subscribers.models import MailingList
from subscribers.tokens import Purpose

log = logging.getLogger(__name__)
router = APIRouter()


class SubscribeRequest(BaseModel):
    email: str = Field(max_length=320, description="The address to subscribe")
    name: str = Field(default="", max_length=200)
    language: str = Field(default="", max_length=35, description="e.g. en or zh-CN")


class SubscribeAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str


class Problem(BaseModel):
    detail: str


def _public_list(web: WebState, slug: str) -> MailingList | None:
    with session_scope(web.db) as s:
        ml = s.scalar(
            select(MailingList).where(MailingList.slug == slug, MailingList.public.is_(True))
        )
        if ml is not None:
            s.expunge(ml)
        return ml


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limited(web: WebState, request: Request, email: str) -> bool:
    if not web.per_client.allow(_client(request)):
        return True
    try:
        key = parse_address(email).key
    except InvalidInput:
        return False
    return not web.per_email.allow(key)


def _subscribe(
    web: WebState, ml: MailingList, request: Request, email: str, name: str, lang: str
) -> None:
    """Record the request and send the confirmation; raises InvalidInput for bad fields."""
    with session_scope(web.db) as s:
        req = request_subscription(
            s,
            email,
            ml.slug,
            name=name,
            language=lang,
            ip=_client(request),
            source=f"web:{ml.slug}",
        )
    if req.next is not Next.CONFIRM or req.subscriber_id is None:
        return
    token = web.tokens.make(Purpose.CONFIRM, req.subscriber_id, ml.id)
    url = f"{web.settings.base_url.rstrip('/')}/confirm/{token}"
    confirmation = confirmation_message(
        web.settings, ml.title, req.email, name, req.language or lang, url
    )
    try:
        web.send(confirmation)
    except Exception:  # the page must not reveal mail trouble; the log tells the admin
        log.exception("could not send the confirmation email for list %s", ml.slug)


@router.get("/lists/{slug}/subscribe", response_class=HTMLResponse, include_in_schema=False)
def subscribe_form(slug: str, request: Request) -> HTMLResponse:
    lang = language(request)
    ml = _public_list(state(request), slug)
    if ml is None:
        return message(lang, "invalid_title", "invalid", status=404, error=True)
    return page(
        "subscribe",
        lang,
        "subscribe_title",
        fmt={"list": ml.title},
        mailing_list=ml,
        action=f"/lists/{slug}/subscribe",
        email="",
        name="",
        problem=None,
    )


@router.post("/lists/{slug}/subscribe", response_class=HTMLResponse, include_in_schema=False)
def subscribe_post(
    slug: str,
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=200)] = "",
    language_: Annotated[str, Form(alias="language", max_length=35)] = "",
) -> HTMLResponse:
    web = state(request)
    lang = language(request, language_ or None)
    ml = _public_list(web, slug)
    if ml is None:
        return message(lang, "invalid_title", "invalid", status=404, error=True)
    if _limited(web, request, email):
        return message(lang, "invalid_title", "too_many", status=429, error=True)
    try:
        _subscribe(web, ml, request, email, name, language_)
    except InvalidInput as exc:
        return page(
            "subscribe",
            lang,
            "subscribe_title",
            status=422,
            fmt={"list": ml.title},
            mailing_list=ml,
            action=f"/lists/{slug}/subscribe",
            email=email,
            name=name,
            problem=str(exc),
        )
    fmt = {"email": email.strip(), "list": ml.title}
    if ml.double_opt_in:
        return message(lang, "check_inbox_title", "check_inbox", fmt=fmt)
    return message(lang, "subscribed_title", "subscribed", fmt=fmt)


@router.post(
    "/api/lists/{slug}/subscribe",
    status_code=202,
    response_model=SubscribeAccepted,
    responses={404: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
    summary="Subscribe an address to a list",
)
def subscribe_api(slug: str, body: SubscribeRequest, request: Request) -> JSONResponse:
    """Answers 202 whatever the address's state; a double opt-in list mails a link."""
    web = state(request)
    ml = _public_list(web, slug)
    if ml is None:
        return JSONResponse({"detail": f"no list {slug!r}"}, status_code=404)
    if _limited(web, request, body.email):
        return JSONResponse({"detail": "too many requests"}, status_code=429)
    try:
        _subscribe(web, ml, request, body.email, body.name, body.language)
    except InvalidInput as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    text = "check the inbox for a confirmation link" if ml.double_opt_in else "subscribed"
    return JSONResponse(SubscribeAccepted(message=text).model_dump(), status_code=202)
