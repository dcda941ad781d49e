"""Subscribing: the form per list and the JSON endpoint.

Both answer the same way, after the same work, whatever the address's
state (new, already subscribed, suppressed): they check the fields and write
the request to the confirmation outbox (mailer.outbox), whose worker applies
it and sends the confirmation of a double opt-in list (a single opt-in list
confirms at once). So neither the answer nor its timing reveals who is on a
list, and a confirmation waits out an SMTP outage instead of being lost.
Both are rate-limited per client address and per email address (without
its ``+tag``).
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from mailer.db import session_scope
from mailer.outbox import enqueue
from mailer.web.app import WebState
from mailer.web.limits import address_key
from mailer.web.pages import language, message, page, state, too_many
from subscribers.addresses import parse_address
from subscribers.errors import InvalidInput
from subscribers.fields import check_language, check_name
from subscribers.models import MailingList

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


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limited(web: WebState, request: Request, email: str) -> int | None:
    """None when the request may go on, else the seconds to wait (Retry-After)."""
    client = client_address(request)
    if not web.per_client.allow(client):
        return web.per_client.retry_after(client)
    try:
        key = address_key(parse_address(email).key)
    except InvalidInput:
        return None
    return None if web.per_email.allow(key) else web.per_email.retry_after(key)


def _subscribe(
    web: WebState, ml: MailingList, request: Request, email: str, name: str, lang: str
) -> None:
    """Check the fields and queue the request; raises InvalidInput for bad fields."""
    address = parse_address(email)
    name = check_name(name)
    lang = check_language(lang) or ""
    with session_scope(web.db) as s:
        enqueue(s, ml.id, address.given, name, lang, client_address(request), f"web:{ml.slug}")


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
        field=None,
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
    wait = _limited(web, request, email)
    if wait is not None:
        return too_many(lang, wait)
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
            problem=exc.reason,
            field=exc.field,
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
    wait = _limited(web, request, body.email)
    if wait is not None:
        return JSONResponse(
            {"detail": "too many requests"}, status_code=429, headers={"Retry-After": str(wait)}
        )
    try:
        _subscribe(web, ml, request, body.email, body.name, body.language)
    except InvalidInput as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    text = "check the inbox for a confirmation link" if ml.double_opt_in else "subscribed"
    return JSONResponse(SubscribeAccepted(message=text).model_dump(), status_code=202)
