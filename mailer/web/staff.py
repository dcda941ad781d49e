"""What the staff console and the API share: their state, the client address, the actor."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from fastapi import Request

from mailer.accounts.audit import Actor
from mailer.accounts.models import User
from mailer.accounts.throttle import LoginThrottle
from mailer.web.app import WebState


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
