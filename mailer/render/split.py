"""Per-recipient fields held by sentinels, and the templates split around them.

premailer URL-quotes what it does not understand, so Jinja placeholders do
not survive it (PERF-NOTES.md). Per-recipient fields are therefore written
as plain alphanumeric sentinels carrying a random nonce; after inlining, the
document is split around them. Filling in a recipient is then a join.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass


class Sentinels:
    """Hands out one sentinel per field name; ``split`` finds them again."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(4)
        self.fields: list[str] = []
        self._pattern = re.compile(rf"Zq{self.nonce}f(\d+)qZ")

    def __call__(self, field: str) -> str:
        if field not in self.fields:
            self.fields.append(field)
        return f"Zq{self.nonce}f{self.fields.index(field)}qZ"

    def split(self, text: str, html: bool = False) -> SplitTemplate:
        """``text`` cut around the sentinels; ``html``: note which begin a link's URL."""
        pieces = self._pattern.split(text)
        schemes: list[str | None] = []
        # re.split alternates literal, group, literal…: turn groups into names.
        for i in range(1, len(pieces), 2):
            pieces[i] = self.fields[int(pieces[i])]
            schemes.append(_url_start(pieces[i - 1]) if html else None)
        return SplitTemplate(tuple(pieces), tuple(schemes) if html else ())


@dataclass(frozen=True)
class SplitTemplate:
    """``parts[0], field, parts[2], field, …``: odd positions name a field."""

    parts: tuple[str, ...]
    # Per field: None, or the literal start of the URL attribute the field
    # begins or continues before its scheme is settled (see _url_start).
    url_starts: tuple[str | None, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return self.parts[1::2]

    def value(self, n: int, values: Mapping[str, str]) -> str:
        """The ``n``th field's value; in a URL's scheme only http(s) or mailto pass."""
        value = values.get(self.parts[2 * n + 1], "")
        start = self.url_starts[n] if n < len(self.url_starts) else None
        if start is not None and not safe_url(start + value):
            return "#"
        return value

    def fill(self, values: Mapping[str, str], escape: Callable[[str], str] | None = None) -> str:
        out = list(self.parts)
        for n, i in enumerate(range(1, len(out), 2)):
            value = self.value(n, values)
            out[i] = escape(value) if escape is not None else value
        return "".join(out)

    def fill_html(self, values: Mapping[str, str]) -> str:
        return self.fill(values, _escape_html)


def _escape_html(value: str) -> str:
    return html.escape(value, quote=True)


# An attribute taking a URL, open at the end of the literal before a field.
_URL_ATTR = re.compile(
    r"""(?:^|[\s"'/])(?:href|src|action|formaction|background|cite|poster|xlink:href)"""
    r"""\s*=\s*(?:"([^"]*)|'([^']*)|([^\s"'>]*))\Z""",
    re.IGNORECASE,
)
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]")  # browsers drop tabs and newlines
SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _url_start(literal: str) -> str | None:
    """The URL so far when a field starts inside a URL attribute whose scheme is open."""
    m = _URL_ATTR.search(literal[-2000:])
    if m is None:
        return None
    start = _IGNORED_IN_URLS.sub("", html.unescape(next(g for g in m.groups() if g is not None)))
    # After ':', '/', '?' or '#' the scheme (or a relative URL) is settled by us.
    return None if any(c in start for c in ":/?#") else start


def safe_url(url: str) -> bool:
    """An absolute http(s) or mailto URL, as a browser would read it."""
    return _IGNORED_IN_URLS.sub("", html.unescape(url)).lower().startswith(SAFE_SCHEMES)
