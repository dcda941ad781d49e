"""Quoted-printable bodies assembled from pre-encoded segments.

Each literal stretch of the HTML or text is QP-encoded once per issue and
ends with a line break (a soft one, ``=\\r\\n``, when the text itself does not
break there). A per-recipient value is encoded the same way. Because soft
breaks vanish when decoding, the joined segments decode to exactly the
personalized document, every encoded line stays within 76 characters, and no
line ever spans two segments — which also lets DKIM's body canonicalization
be done once per literal segment instead of once per message.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mailer.render.split import SplitTemplate

MAX_LINE = 76  # RFC 2045 6.7 (5): encoded lines at most 76 characters, the "=" included
_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_EOL = re.compile(rb"[ \t]+\r\n")


def qp(text: str) -> bytes:
    """QP of ``text`` with CRLF line ends, always ending in a (soft) line break."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, istext=True)
    if b"\r\n" not in data and b"\n" in encoded:
        # With no CRLF in its input, b2a_qp ends its soft line breaks in a bare LF.
        encoded = encoded.replace(b"\n", b"\r\n")
    if not encoded.endswith(b"\r\n"):
        encoded = _soft_break(encoded)
    return encoded


def _soft_break(encoded: bytes) -> bytes:
    """End ``encoded`` with a soft line break, keeping every line within 76 (RFC 2045 6.7).

    b2a_qp fills a last line to 76 characters; the "=" of the soft break
    would make it 77, so such a line is split first (never inside an =XX).
    """
    head, sep, last = encoded.rpartition(b"\r\n")
    prefix = head + sep
    while len(last) > MAX_LINE - 1:
        cut = MAX_LINE - 1
        if b"=" in last[cut - 2 : cut]:  # do not split an escape
            cut = last.rindex(b"=", cut - 2, cut)
        prefix += last[:cut] + b"=\r\n"
        last = last[cut:]
    return prefix + last + b"=\r\n"


def relaxed_body(data: bytes) -> bytes:
    """DKIM relaxed body canonicalization (RFC 6376 3.4.4) of whole lines."""
    if b"\t" not in data and b"  " not in data and b" \r\n" not in data:
        return data
    return _WSP_RUN.sub(b" ", _WSP_EOL.sub(b"\r\n", data))


def dot_stuffed(segment: bytes) -> bytes:
    """RFC 5321 4.5.2 transparency for a segment that starts a line (as every one does)."""
    lead = b"." if segment.startswith(b".") else b""
    return lead + segment.replace(b"\r\n.", b"\r\n..")


@dataclass(frozen=True)
class EncodedBody:
    """Segments: bytes are literal (with their canonical form), str names a field."""

    segments: tuple[bytes | str, ...]
    canonical: tuple[bytes | None, ...]
    template: SplitTemplate | None = None  # decides each field's value (URL checks)
    # The literal segments dot-stuffed for SMTP, once per issue: stuffing a
    # whole 60 KB message per recipient cost 50-100 us in bytes.replace.
    stuffed: tuple[bytes | None, ...] = ()

    @classmethod
    def from_template(
        cls, template: SplitTemplate, escape: Callable[[str], str] | None = None
    ) -> EncodedBody:
        segments: list[bytes | str] = []
        for i, part in enumerate(template.parts):
            if i % 2:
                segments.append(part)
            elif part:
                segments.append(qp(part))
        canonical = tuple(relaxed_body(s) if isinstance(s, bytes) else None for s in segments)
        stuffed = tuple(dot_stuffed(s) if isinstance(s, bytes) else None for s in segments)
        return cls(tuple(segments), canonical, template, stuffed)

    def wire(self, rendered: list[bytes]) -> list[bytes]:
        """``render``'s segments as they go after SMTP's DATA: dot-stuffed."""
        return [
            ready if ready is not None else dot_stuffed(seg)
            for ready, seg in zip(self.stuffed, rendered, strict=True)
        ]

    def render(
        self, values: Mapping[str, str], escape: Callable[[str], str] | None = None
    ) -> tuple[list[bytes], list[bytes]]:
        """(encoded segments, their canonical forms) for one recipient."""
        out: list[bytes] = []
        canon: list[bytes] = []
        n = 0
        for seg, can in zip(self.segments, self.canonical, strict=True):
            if isinstance(seg, bytes):
                out.append(seg)
                canon.append(can or seg)
            else:
                value = self.template.value(n, values) if self.template else values.get(seg, "")
                n += 1
                encoded = qp(escape(value) if escape is not None else value)
                out.append(encoded)
                canon.append(relaxed_body(encoded))
        return out, canon
