"""Jinja2 environments: sandboxed (issue authors write the body), strict (sandbox.py)."""

from __future__ import annotations

import datetime as dt
from functools import cache

from jinja2 import FileSystemLoader, select_autoescape

from mailer.content.plaintext import width_of, wrap
from mailer.render.sandbox import AuthorSandbox
from mailer.resources import templates_dir


@cache
def layout_environment() -> AuthorSandbox:
    """Email layouts in templates/email: HTML autoescaped, text not."""
    env = AuthorSandbox(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["longdate"] = long_date
    env.filters["wraptext"] = lambda text, width=78: "\n".join(wrap(str(text), width))
    env.filters["underline"] = underline
    return env


@cache
def body_environment(autoescape: bool) -> AuthorSandbox:
    """The issue body itself is a template too (``{{ subscriber.name }}``); no loader,
    so it cannot include or import files."""
    return AuthorSandbox(autoescape=autoescape, keep_trailing_newline=True)


def underline(text: str, char: str = "=", width: int = 78) -> str:
    """As many ``char`` as the widest line of ``text`` wrapped (CJK counts double)."""
    return char * max((width_of(line) for line in wrap(str(text), width)), default=0)


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def long_date(value: dt.date | None, language: str = "en") -> str:
    """September 30th, 2021 — or 2021年9月30日 for Chinese."""
    if value is None:
        return ""
    if language.split("-")[0] in ("zh", "ja"):
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.strftime('%B')} {_ordinal(value.day)}, {value.year}"
