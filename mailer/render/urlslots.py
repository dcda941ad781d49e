"""Where a per-recipient field lands in an HTML message, and what it may hold there.

A subscriber's own values (name, attributes) are filled in after rendering
(see split.py). Wherever a browser or mail client would read a URL, a value
must not be able to start one with a scheme of its choosing
(``javascript:``, ``data:``…) nor begin a second URL after ours. A field is
in such a slot when it lands

- in an attribute holding one URL (``href``, ``src``, ``action``,
  ``formaction``, ``poster``, ``background``, ``<object data>``…);
- in a list of URLs: ``srcset`` (comma-separated candidates) or ``ping``
  and ``archive`` (separated by spaces or commas);
- in CSS, a ``style`` attribute or a ``<style>`` element, where ``url(``,
  ``image-set(``, ``@import`` and CSS escapes (``\\75 rl(``) can load one;
- in a ``<meta content>``, which ``http-equiv=refresh`` reads as
  ``<seconds>;url=<URL>``;
- in SVG animation values (``to``, ``from``, ``values``), which can set an
  ``href``; and in an ``<iframe srcdoc>``, where it may not bring markup.

Where the field begins a URL whose scheme is still open, the URL it makes
must be absolute http(s) or mailto; where it could begin another URL, it
must not hold the separator (or, in CSS, any of ``( \\ @``). Otherwise it
is replaced by ``#``. Filling stays a lookup: slots are found once per
template, from the literal text before each field.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

SAFE_SCHEMES = ("http://", "https://", "mailto:")
# Stands for an earlier field in the text a slot is found in: it is checked
# itself, so it settles whatever it begins.
MARK = "\ue000"
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]")  # browsers drop tabs and newlines
# Attributes whose value is one URL.
URL_ATTRS = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "background",
        "cite",
        "poster",
        "xlink:href",
        "data",
        "codebase",
        "classid",
        "longdesc",
        "usemap",
        "manifest",
        "lowsrc",
        "dynsrc",
        "profile",
        "icon",
        # SVG animation can set an href: <animate attributeName="href" to="…">.
        "to",
        "from",
    }
)
# Attributes whose value is several URLs, and what separates them.
LIST_ATTRS = {
    "srcset": ",",
    "imagesrcset": ",",
    "ping": " \t\n\r\f,",
    "archive": " \t\n\r\f,",
    "values": ";",  # SVG animation, as "to" above
}
_CSS_FORBIDDEN = "(\\@"
# An attribute open at the end of the text: its name and its value so far.
_ATTR = re.compile(
    r"""(?:^|[\s"'/])([a-z_:][-\w:.]*)\s*=\s*(?:"([^"]*)|'([^']*)|([^\s"'>]*))\Z""",
    re.IGNORECASE,
)
_TAG = re.compile(r"<([a-z][-\w:]*)", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*["']?([^)"']*)\Z""", re.IGNORECASE)
# http-equiv=refresh: seconds, an optional ';' or ',', an optional 'url=', a quote.
_REFRESH = re.compile(r"""\s*[\d.]+\s*[;,]?\s*(?:url\s*=\s*)?["']?""", re.IGNORECASE)


def safe_url(url: str) -> bool:
    """An absolute http(s) or mailto URL, as a browser would read it."""
    # A URL that begins with a safe scheme as written (our own links, per
    # recipient and field) reads so too: unescaping and dropping characters
    # only touch what follows, since the scheme has neither "&" nor those.
    return url.startswith(SAFE_SCHEMES) or _read_as_safe(url)


def _read_as_safe(url: str) -> bool:
    return _IGNORED_IN_URLS.sub("", html.unescape(url)).lower().startswith(SAFE_SCHEMES)


def _open(url_so_far: str) -> str | None:
    """``url_so_far`` if its scheme is still open; None once settled."""
    start = _IGNORED_IN_URLS.sub("", html.unescape(url_so_far))
    # After ':', '/', '?' or '#' the scheme (or a relative URL) is settled by
    # us; an earlier field there is checked itself.
    return None if any(c in start for c in ":/?#" + MARK) else start


@dataclass(frozen=True)
class Slot:
    """What a field's value may be where it lands."""

    start: str | None = None  # the URL so far, when the field begins an open one
    forbid: str = ""  # characters that would begin another URL
    refresh: str | None = None  # a <meta content> so far

    def guard(self, value: str) -> str:
        # Once per recipient and field: the common slot (one URL) costs one check.
        if self.forbid and any(c in value for c in self.forbid):
            return "#"
        if self.start is not None and not safe_url(self.start + value):
            return "#"
        if self.refresh is not None and not _refresh_ok(self.refresh, value):
            return "#"
        return value


def _refresh_ok(before: str, value: str) -> bool:
    """Whether ``before + value``, read as a refresh, loads only a safe URL (or none)."""
    if MARK in before:  # several fields in one refresh: only plain words
        return re.fullmatch(r"[\w .-]*", value) is not None
    head = html.unescape(before)
    text = head + value
    m = _REFRESH.match(text)
    if m is None:
        return True  # no leading number: not a refresh a client follows
    if m.end() <= len(head) and _open(head[m.end() :]) is None:
        return True  # the URL was begun, and settled, by the literal text
    url = text[m.end() :]
    return url.strip() == "" or safe_url(url)


def _css(text: str) -> Slot:
    m = _CSS_URL.search(text)
    return Slot(start=_open(m.group(1)) if m else None, forbid=_CSS_FORBIDDEN)


def _in_style_element(text: str) -> str | None:
    """The CSS so far if ``text`` ends inside a <style> element."""
    low = text.lower()
    opened = low.rfind("<style")
    if opened < 0 or opened < low.rfind("</style"):
        return None
    return text[text.find(">", opened) + 1 :] if ">" in text[opened:] else ""


def slot_for(before: str) -> Slot | None:
    """The slot of a field after ``before`` (earlier fields as MARK), or None: text."""
    tail = before[-2000:]
    m = _ATTR.search(tail)
    if m is None:
        css = _in_style_element(before)  # a <style> element can be long
        return _css(css) if css is not None else None
    # (An unquoted value cannot gain attributes: premailer writes every
    # attribute quoted before the slots are found.)
    return _attribute_slot(tail, m)


def _attribute_slot(tail: str, m: re.Match[str]) -> Slot | None:
    name = m.group(1).lower()
    value = next(g for g in m.groups()[1:] if g is not None)
    if name in URL_ATTRS:
        start = _open(value)
        return Slot(start=start) if start is not None else None
    if name in LIST_ATTRS:
        seps = LIST_ATTRS[name]
        current = re.split(f"[{re.escape(seps)}]", value)[-1].lstrip()
        in_url = not any(c.isspace() for c in current)  # not yet at a srcset descriptor
        return Slot(start=_open(current) if in_url else None, forbid=seps)
    if name == "style":
        return _css(html.unescape(value))
    if name == "srcdoc":
        # A whole document, unescaped once by the browser: no markup from a value.
        return Slot(forbid="<")
    if name == "content":
        tags = _TAG.findall(tail[: m.start() + 1])
        if tags and tags[-1].lower() == "meta":
            return Slot(refresh=value)
    return None
