"""A subscriber attribute that reaches a link's URL may only be http(s) or mailto."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest

from mailer.content import load_issue_set
from mailer.message import MessageFactory, Recipient
from mailer.render import Audience, prepare_issue
from subscribers.tokens import Tokens
from tests.mailer.helpers import SECRET, sender

AUDIENCE = Audience("News", "news", base_url="https://n.example")
HOSTILE = [
    "javascript:alert(document.cookie)",
    " JaVa\tScRiPt:alert(1)",
    "java\nscript:alert(1)",
    "&#106;avascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",  # not absolute: refused too
    "",
]
OURS = {"unsubscribe_url": "https://n.example/u/T", "preferences_url": "https://n.example/p/T"}
FINE = ["https://ok.example/p?a=1&b=2", "http://ok.example/", "mailto:li@example.org"]

MARKDOWN = "[site]({{ subscriber.attributes.site }}) and [mail](mailto:x@example.org)\n"
HTML = (
    '<p><a href="{{ subscriber.attributes.site }}">site</a> '
    "<a href='{{ subscriber.attributes.site }}'>quoted</a> "
    '<img src="{{ subscriber.attributes.site }}" alt="pic"> '
    '<a href=" java{{ subscriber.attributes.site }}">split</a> '
    '<a href="https://ok.example/?u={{ subscriber.attributes.site }}">query</a></p>\n'
)


def _variant(tmp_path: Path, body: str, suffix: str):  # type: ignore[no-untyped-def]
    path = tmp_path / suffix.strip(".") / f"links{suffix}"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"---\nsubject: Links\n---\n{body}", encoding="utf-8")
    return prepare_issue(load_issue_set(path), AUDIENCE).for_language(None)


def _urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)=["\']([^"\']*)', html)


def _email_html(variant, site: str) -> str:  # type: ignore[no-untyped-def]
    factory = MessageFactory(variant, sender(), Tokens(SECRET))
    data = factory.build(Recipient(1, "li@example.org", "Li", {"site": site})).data
    msg = email.message_from_bytes(data, policy=email.policy.default)
    return str(msg.get_body(("html",)).get_content())  # type: ignore[union-attr]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_urls_are_replaced_in_preview_and_email(tmp_path: Path, value: str) -> None:
    for body, suffix in ((MARKDOWN, ".md"), (HTML, ".html")):
        variant = _variant(tmp_path, body, suffix)
        for html in (
            variant.html.fill_html({**OURS, "attr.site": value}),
            _email_html(variant, value),
        ):
            urls = _urls(html)
            assert urls, html
            for url in urls:
                if url.startswith("https://ok.example/?u="):
                    continue  # our literal scheme: the value is only a query parameter
                squeezed = re.sub(r"[\s\x00-\x1f]", "", url).lower()
                assert "script:" not in squeezed and not squeezed.startswith(("data:", "//"))
                assert "&#106;" not in url
            # The attribute a field opened became "#"; the literal query link kept it escaped.
            assert "#" in urls


@pytest.mark.parametrize("value", FINE)
def test_http_and_mailto_urls_pass_through(tmp_path: Path, value: str) -> None:
    variant = _variant(tmp_path, MARKDOWN, ".md")
    for html in (variant.html.fill_html({**OURS, "attr.site": value}), _email_html(variant, value)):
        assert value.replace("&", "&amp;") in html
        assert 'href="#"' not in html


def test_a_settled_url_keeps_the_value_escaped(tmp_path: Path) -> None:
    variant = _variant(tmp_path, HTML, ".html")
    html = variant.html.fill_html({**OURS, "attr.site": 'javascript:x" onmouseover="y'})
    assert 'href="https://ok.example/?u=javascript:x&quot; onmouseover=&quot;y"' in html
    assert ' onmouseover="y' not in html


def test_links_outside_urls_are_text(tmp_path: Path) -> None:
    variant = _variant(tmp_path, "Your site: {{ subscriber.attributes.site }}\n", ".md")
    html = variant.html.fill_html({"attr.site": "javascript:alert(1)"})
    assert "Your site: javascript:alert(1)" in html  # plain text, not a link
    assert "javascript:alert(1)" in variant.text.fill({"attr.site": "javascript:alert(1)"})
