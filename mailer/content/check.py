"""`mailer issues check`: what would go wrong with an issue, found before sending.

Front matter and templates (by loading and rendering every variant), links
that are not http(s) or mailto, images without alt text, and the size of the
HTML: Gmail clips a message whose HTML passes 102 KB, hiding the footer with
the unsubscribe link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

from markdown_it.token import Token

from mailer.content.issue import Issue
from mailer.content.markup import parse

GMAIL_CLIP = 102 * 1024
Adder = Callable[[int | None, str], None]
ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _walk(tokens: list[Token]) -> list[tuple[Token, int | None]]:
    out = []
    for t in tokens:
        line = t.map[0] if t.map else None
        out.append((t, line))
        for child in t.children or []:
            out.append((child, line))
    return out


def check_markup(issue: Issue) -> list[Problem]:
    problems: list[Problem] = []

    def add(line: int | None, message: str) -> None:
        where = f"{issue.path}:{issue.body_line + line}" if line is not None else str(issue.path)
        problems.append(Problem(where, message))

    if issue.is_markdown:
        for token, line in _walk(parse(issue.body)):
            if token.type == "link_open":
                _check_href(str(token.attrGet("href") or ""), line, add)
            elif token.type == "image":
                if not token.content.strip():
                    add(line, f"image {token.attrGet('src')} has no alt text")
            elif token.type in ("html_block", "html_inline"):
                _check_html(token.content, line or 0, add)
    else:
        _check_html(issue.body, 0, add)
    return problems


def _check_href(href: str, line: int | None, add: Adder) -> None:
    if not href.lower().startswith(ALLOWED_SCHEMES) and not href.startswith("{{"):
        add(line, f"link {href!r} is not an http(s) or mailto link")


def _check_html(html: str, offset: int, add: Adder) -> None:
    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            line = offset + self.getpos()[0] - 1
            if tag == "a" and a.get("href") is not None:
                _check_href(a["href"] or "", line, add)
            if tag == "img" and not (a.get("alt") or "").strip():
                add(line, f"image {a.get('src')} has no alt text")

    parser = Links()
    parser.feed(html)
    parser.close()


def check_size(issue: Issue, html_bytes: int) -> list[Problem]:
    if html_bytes > GMAIL_CLIP:
        return [
            Problem(
                str(issue.path),
                f"the HTML is {html_bytes / 1024:.0f} KB; Gmail clips "
                f"messages over {GMAIL_CLIP // 1024} KB, hiding the unsubscribe link",
            )
        ]
    return []
