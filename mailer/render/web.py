"""The web archive's version of an issue: no mail-only parts, sanitized with nh3.

What an issue author writes reaches a browser only through here. nh3
(the Rust ammonia sanitizer) keeps the newsletter's look — the layout's
tables, images, inline styles and its @media block — and drops scripts,
event handlers and any URL that is not http(s), mailto or relative. Links
that lead nowhere on the web (an empty or ``#`` href, where the email had
a personal unsubscribe link) lose their href.
"""

from __future__ import annotations

import re

import nh3

from mailer.content.issue import IssueSet
from mailer.render.context import Audience
from mailer.render.prepare import prepare_web
from mailer.render.strings import strings_for

# Presentational attributes email layouts use, allowed on every tag.
_LOOK = {
    "style",
    "class",
    "align",
    "valign",
    "width",
    "height",
    "bgcolor",
    "border",
    "cellpadding",
    "cellspacing",
    "role",
    "dir",
    "lang",
    "title",
}
TAGS = (nh3.ALLOWED_TAGS - {"html", "head", "body"}) | {"style", "center", "font"}
ATTRIBUTES: dict[str, set[str]] = {
    "*": _LOOK,
    "a": {"href", "hreflang"},
    "img": {"src", "alt"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start", "type"},
    "font": {"color", "face", "size"},
}
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.IGNORECASE | re.DOTALL)
_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.IGNORECASE | re.DOTALL)


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "a" and name == "href" and value.strip() in ("", "#"):
        return None
    return value


def sanitize(html: str) -> str:
    """An HTML fragment safe to serve from our origin."""
    return str(
        nh3.clean(
            html,
            tags=TAGS,
            clean_content_tags={"script", "title", "noscript", "template", "iframe", "object"},
            attributes=ATTRIBUTES,
            attribute_filter=_attribute,
            url_schemes={"http", "https", "mailto"},
            strip_comments=True,
            link_rel="noopener noreferrer",
        )
    )


def web_fragment(document: str) -> str:
    """The layout's <style> blocks and its <body> contents, sanitized."""
    found = _BODY.search(document)
    body = found.group(1) if found else document
    head = document[: found.start()] if found else ""
    return sanitize("".join(_STYLE.findall(head)) + body)


def web_versions(issues: IssueSet, audience: Audience) -> dict[str, str]:
    """Each language variant as the archive shows it: a sanitized fragment."""
    out = {}
    for language, issue in issues.variants.items():
        template = prepare_web(issue, audience)
        # No recipient on the web: a greeting reads "Dear reader," not "Dear ,".
        neutral = {"name": strings_for(language)["reader"]}
        out[language] = web_fragment(template.fill_html(neutral))
    return out
