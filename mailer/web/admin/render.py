"""Rendering console pages: Jinja2 (autoescaped) from templates/admin."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mailer.accounts.models import Role, User
from mailer.resources import templates_dir
from mailer.web.admin.session import csrf_for, set_login_csrf


def _when(value: datetime | str | None, zone: str = "UTC") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):  # ISO text from the subscriber service's descriptions
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


# What a redirect after a change may announce: the query string carries only the
# code, never the text, so a link cannot put words of its author's choosing on
# a console page (an unknown code shows nothing).
NOTICES = {
    "list-created": "List created.",
    "added": "Subscriber added.",
    "unsubscribed": "Unsubscribed.",
    "suppressed": "Suppressed.",
    "erased": "Subscriber erased.",
    "paused": "Campaign paused.",
    "resumed": "Campaign resumed.",
    "cancelled": "Campaign cancelled.",
    "stored": "Issue stored.",
    "saved": "Saved.",
    "saved-version": "Saved as a new version.",
    "test-sent": "Test message sent, marked [TEST].",
}


def notice_text(code: str) -> str:
    return NOTICES.get(code, "")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / "admin")),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    env.filters["when"] = _when
    return env


def can(user: User | None, role: str) -> bool:
    return user is not None and Role(user.role).allows(Role(role))


def page(
    request: Request,
    template: str,
    user: User | None,
    title: str,
    code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("notice", notice_text(request.query_params.get("notice", "")))
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            user=user,
            title=title,
            csrf=csrf_for(request),
            can=lambda role: can(user, role),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=code)
    set_login_csrf(request, response)
    return response


def fragment(template: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(environment().get_template(template).render(**context))
