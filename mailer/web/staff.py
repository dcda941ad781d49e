"""What the staff console and the API share: their state, the client address, the actor."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import StreamingResponse

from mailer.accounts import audit
from mailer.accounts.audit import Actor
from mailer.accounts.models import User
from mailer.accounts.throttle import LoginThrottle
from mailer.db import session_scope
from mailer.web.app import WebState
from subscribers.exporter import export_csv
from subscribers.lists import get_list


@dataclass
class StaffState:
    # Signs session cookies and one-time links; a random one (sessions end at
    # restart) when no secret_key is configured.
    secret: str
    secure_cookies: bool  # base_url is https
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def staff_state(web: WebState) -> StaffState:
    return StaffState(
        secret=web.settings.secret_key or secrets.token_urlsafe(32),
        secure_cookies=web.settings.base_url.lower().startswith("https://"),
    )


def web_state(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def staff(request: Request) -> StaffState:
    state: StaffState = request.app.state.staff
    return state


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def actor(user: User, request: Request) -> Actor:
    return Actor.of(user, client_ip(request))


def list_csv(request: Request, slug: str, user: User) -> StreamingResponse:
    """A list's subscribers as a CSV download (console and API alike), audited."""
    out = io.StringIO()
    with session_scope(web_state(request).db) as s:
        get_list(s, slug)  # an unknown list is NotFound, before anything is written
        export_csv(s, out, slug)
        audit.record(s, actor(user, request), "subscribers.export", slug)
    return StreamingResponse(
        iter([out.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}.csv"'},
    )
