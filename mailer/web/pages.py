"""Rendering the subscriber pages (Jinja2, autoescaped, templates/web)."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mailer.i18n import negotiate, words
from mailer.resources import templates_dir
from mailer.web.app import WebState


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )


def state(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def language(request: Request, preferred: str | None = None) -> str:
    return negotiate(request.headers.get("accept-language"), preferred)


def page(
    template: str,
    lang: str,
    title_key: str,
    status: int = 200,
    fmt: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    w = words(lang)
    title = w[title_key].format(**(fmt or {}))
    html = (
        environment()
        .get_template(f"web/{template}.html")
        .render(lang=lang, w=w, title=title, **context)
    )
    return HTMLResponse(html, status_code=status)


def too_many(lang: str, retry_after: int) -> HTMLResponse:
    """The 429 page, with how long to wait (Retry-After, RFC 9110 10.2.3)."""
    response = message(lang, "too_many_title", "too_many", status=429, error=True)
    response.headers["Retry-After"] = str(retry_after)
    return response


def message(
    lang: str,
    title_key: str,
    *keys: str,
    status: int = 200,
    fmt: dict[str, Any] | None = None,
    error: bool = False,
    **context: Any,
) -> HTMLResponse:
    w = words(lang)
    lines = [w[k].format(**(fmt or {})) for k in keys]
    context.setdefault("resend_url", None)
    context.setdefault("preferences_url", None)
    context.setdefault("button_url", None)
    context.setdefault("resubscribe_url", None)
    return page("message", lang, title_key, status, fmt, lines=lines, error=error, **context)
