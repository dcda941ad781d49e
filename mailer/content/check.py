"""`mailer issues check`: what would go wrong with an issue, found before sending.

Front matter and templates (by loading and rendering every variant), links
that are not http(s) or mailto, relative links and image sources (they lead
nowhere from a mailbox), ``<script>``, event handlers and ``javascript:``
links (errors: mail clients strip them and filters score them), images
without alt text or width, settings that leave the footer without the
sender's organization or postal address, and the size of the HTML: Gmail
clips a message whose HTML passes 102 KB, hiding the footer with the
unsubscribe link. Errors fail the check; warnings are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urlsplit

from markdown_it.token import Token

from mailer.content.issue import Issue
from mailer.content.markup import parse

GMAIL_CLIP = 102 * 1024
ERROR, WARNING = "error", "warning"


class Adder(Protocol):
    def __call__(self, line: int | None, message: str, level: str = ERROR) -> None: ...


ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


@dataclass(frozen=True)
class Problem:
    where: str
    message: str
    level: str = ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.level == WARNING else ""
        return f"{self.where}: {prefix}{self.message}"

    def as_dict(self) -> dict[str, object]:
        """``{"file", "line", "severity", "message"}`` (line None when there is none)."""
        file, _, line = self.where.rpartition(":")
        if not (file and line.isdigit()):
            file, line = self.where, ""
        return {
            "file": file,
            "line": int(line) if line else None,
            "severity": self.level,
            "message": self.message,
        }


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

    def add(line: int | None, message: str, level: str = ERROR) -> None:
        where = f"{issue.path}:{issue.body_line + line}" if line is not None else str(issue.path)
        problems.append(Problem(where, message, level))

    if issue.is_markdown:
        for token, line in _walk(parse(issue.body)):
            if token.type == "link_open":
                _check_href(str(token.attrGet("href") or ""), line, add)
            elif token.type == "image":
                src = str(token.attrGet("src") or "")
                _check_image(src, token.content, None, line, add)
            elif token.type in ("html_block", "html_inline"):
                _check_html(token.content, line or 0, add)
    else:
        _check_html(issue.body, 0, add)
    return problems


def _relative(url: str) -> bool:
    return not urlsplit(url.strip()).scheme and not url.startswith(("{{", "//"))


def _check_href(href: str, line: int | None, add: Adder) -> None:
    if href.startswith("{{"):
        return
    if href.strip().lower().startswith("javascript:"):
        add(line, f"link {href!r} is a javascript: link: mail clients remove it", ERROR)
    elif _relative(href):
        add(line, f"link {href!r} is relative: from a mailbox it leads nowhere; use https://…")
    elif not href.lower().startswith(ALLOWED_SCHEMES):
        add(line, f"link {href!r} is not an http(s) or mailto link")


def _check_image(
    src: str, alt: str | None, width: str | None, line: int | None, add: Adder
) -> None:
    if not (alt or "").strip():
        add(line, f"image {src} has no alt text")
    if _relative(src):
        add(line, f"image {src!r} is relative: it cannot load in a mailbox; use https://…")
    elif src.strip().lower().startswith("javascript:"):
        add(line, f"image {src!r} has a javascript: source")
    if not (width or "").strip():
        add(
            line,
            f"image {src} has no width: Outlook shows it at full size "
            "(use <img width=…> rather than Markdown's ![]())",
            WARNING,
        )


def _check_html(html: str, offset: int, add: Adder) -> None:
    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            line = offset + self.getpos()[0] - 1
            if tag == "a" and a.get("href") is not None:
                _check_href(a["href"] or "", line, add)
            if tag == "img":
                _check_image(a.get("src") or "", a.get("alt"), a.get("width"), line, add)
            if tag == "script":
                add(line, "<script> in an issue: mail clients remove it and filters score it")
            for name, _ in attrs:
                if name.startswith("on"):
                    add(line, f"event handler {name}= on <{tag}>: scripts never run in mail")

    parser = Links()
    parser.feed(html)
    parser.close()


def check_footer(organization: str, postal_address: str, where: str) -> list[Problem]:
    """The footer shows the sender's organization and postal address (CAN-SPAM)."""
    return [
        Problem(where, f"the footer has no {what}: set {name} (MAILER_{name.upper()})", WARNING)
        for name, what, value in (
            ("organization", "organization", organization),
            ("postal_address", "postal address", postal_address),
        )
        if not value.strip()
    ]


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
