"""A subscriber's value may not begin a URL anywhere a client reads one, not only in href/src."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mailer.render.urlslots import _read_as_safe, safe_url
from tests.mailer.render.test_links import OURS, _email_html, _variant

FIELD = "{{ subscriber.attributes.site }}"
# One URL-bearing place per case: (HTML with the field, the text the attack would put there).
PLACES = {
    "srcset-first": f'<img alt="a" srcset="{FIELD} 1x, https://ok.example/a.png 2x">',
    "srcset-later": f'<img alt="b" srcset="https://ok.example/b.png 1x, {FIELD} 2x">',
    "object-data": f'<object data="{FIELD}"></object>',
    "style-url": f'<div style="background-image:url({FIELD})">x</div>',
    "style-url-quoted": f"<div style=\"background:url('{FIELD}')\">x</div>",
    "meta-refresh": f'<meta http-equiv="refresh" content="0;url={FIELD}">',
    "meta-refresh-whole": f'<meta http-equiv="refresh" content="{FIELD}">',
    "form-action": f'<form action="{FIELD}"><button>go</button></form>',
    "formaction": f'<form><button formaction="{FIELD}">go</button></form>',
    "poster": f'<video poster="{FIELD}"></video>',
    "background": f'<table background="{FIELD}"><tr><td>x</td></tr></table>',
    "longdesc": f'<img alt="c" src="https://ok.example/c.png" longdesc="{FIELD}">',
    "svg-animate-to": f'<svg><a href="https://ok.example/"><animate attributeName="href" to="{FIELD}"/></a></svg>',
}
HOSTILE = {
    "meta-refresh-whole": "0;url=javascript:alert(1)",  # the number is the value's own
}


def _both(tmp_path: Path, body: str, value: str) -> list[str]:
    variant = _variant(tmp_path, f"<p>{body}</p>\n", ".html")
    return [variant.html.fill_html({**OURS, "attr.site": value}), _email_html(variant, value)]


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Tags().feed(html)
    return found


def _squeezed(html: str) -> str:
    return re.sub(r"[\s\x00-\x1f]", "", html).lower()


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize(
    "value",
    ["javascript:alert(1)", " JaVa\tScRiPt:alert(1)", "data:text/html,<b>x</b>", "//evil.example"],
)
def test_a_value_cannot_begin_a_url_there(tmp_path: Path, place: str, value: str) -> None:
    value = HOSTILE.get(place, value)
    for html in _both(tmp_path, PLACES[place], value):
        squeezed = _squeezed(html)
        assert "script:alert" not in squeezed, place
        assert "data:text" not in squeezed and "//evil.example" not in squeezed, place


@pytest.mark.parametrize("place", sorted(p for p in PLACES if p != "meta-refresh-whole"))
def test_an_https_value_still_goes_there(tmp_path: Path, place: str) -> None:
    for html in _both(tmp_path, PLACES[place], "https://ok.example/mine.png"):
        assert "https://ok.example/mine.png" in html, place


@pytest.mark.parametrize(
    ("body", "value"),
    [
        # A descriptor that starts a second candidate.
        (f'<img alt="d" srcset="https://ok.example/d.png {FIELD}">', "1x, javascript:alert(1) 2x"),
        # A settled URL whose value adds a candidate after a comma.
        (f'<img alt="e" srcset="https://ok.example/e/{FIELD} 1x">', "x.png 1x,javascript:alert(1)"),
        # CSS outside url(): the value opens one, or hides it in an escape or an @import.
        (f'<div style="color:{FIELD}">x</div>', "red;background:url(javascript:alert(1))"),
        (f'<div style="color:{FIELD}">x</div>', "red;background:\\75 rl(javascript:alert(1))"),
        (f'<div style="color:{FIELD};margin:0">x</div>', "red;background:image-set(x)"),
        # The first field is harmless; the second one opens a url(.
        (f'<div style="color:{FIELD};{FIELD}">x</div>', "url(javascript:alert(1))"),
        # A <style> element.
        (f"<style>.x {{ color: {FIELD} }}</style>", "red}} .y{{background:url(javascript:x)"),
        (f"<style>.x {{ color: {FIELD} }}</style>", "red}@import 'javascript:x';"),
        # A refresh whose URL the value brings with its own separator.
        (f'<meta http-equiv="refresh" content="5{FIELD}">', ";url=javascript:alert(1)"),
        # SVG animation values: another value after a semicolon.
        (
            f'<svg><animate attributeName="href" values="https://ok.example/;{FIELD}"/></svg>',
            "x;javascript:alert(1)",
        ),
        # A ping list: another URL after a space.
        (f'<a href="https://ok.example/" ping="https://ok.example/p {FIELD}">x</a>', "a b"),
    ],
)
def test_a_value_cannot_add_another_url(tmp_path: Path, body: str, value: str) -> None:
    for html in _both(tmp_path, body, value):
        squeezed = _squeezed(html)
        for bad in ("javascript:", "url(javascript", "image-set(x)", "@import", "\\75"):
            assert bad not in squeezed, (body, html[html.find("<p") :][:400])
        assert "p a b" not in html


def test_an_unquoted_attribute_cannot_gain_another_attribute(tmp_path: Path) -> None:
    body = f'<a href=https://ok.example/?u={FIELD} title="t">x</a>'
    for html in _both(tmp_path, body, "x onmouseover=alert(1)"):
        names = [n for _, attrs in _tags(html) for n, _ in attrs]
        assert "title" in names and "onmouseover" not in names


def test_plain_values_in_css_and_meta_are_kept(tmp_path: Path) -> None:
    body = (
        f'<div style="color:{FIELD}">x</div>'
        f'<meta name="description" content="News for {FIELD}">'
        f'<img alt="f" srcset="https://ok.example/{FIELD}.png 1x">'
    )
    for html in _both(tmp_path, body, "teal"):
        assert "color:teal" in html.replace(" ", "")
        assert "News for teal" in html and "https://ok.example/teal.png 1x" in html


def test_a_value_brings_no_markup_into_an_iframe_srcdoc(tmp_path: Path) -> None:
    body = f'<iframe title="t" srcdoc="<p>Hello {FIELD}</p>"></iframe>'
    for html in _both(tmp_path, body, "<img src=x onerror=alert(1)>"):
        assert "onerror" not in html
    for html in _both(tmp_path, body, "Li"):
        assert "Hello Li" in html


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example.org/unsubscribe/abc",
        "http://x",
        "mailto:a@example.org",
        "HTTPS://x",
        " https://x",
        "ht\ttps://x",
        "&#104;ttps://x",
        "https&colon;//x",
        "javascript:alert(1)",
        "https:/x",
        "",
        "https://a&amp;b\x00c",
    ],
)
def test_the_safe_url_shortcut_agrees_with_reading_the_url(url: str) -> None:
    assert safe_url(url) == _read_as_safe(url)
