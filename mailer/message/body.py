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
from dataclasses import dataclass, field

from mailer.render.split import SplitTemplate

MAX_LINE = 76  # RFC 2045 6.7 (5): encoded lines at most 76 characters, the "=" included
_WIDTH = MAX_LINE - 1  # the text on a line that ends in a soft break
_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_EOL = re.compile(rb"[ \t]+\r\n")


def qp(text: str) -> bytes:
    """QP of ``text`` with CRLF line ends, always ending in a (soft) line break."""
    if (
        text.isascii()
        and text.isprintable()
        and "=" not in text
        and text[-1:] != " "
        and text != "."
    ):
        # Nothing b2a_qp would escape (a link, a plain name): it only cuts the
        # text into lines of 75 characters and a soft break, as _qp_encoded does.
        data = text.encode("ascii")
        if len(data) <= _WIDTH:
            return data + b"=\r\n"
        if len(data) <= 2 * _WIDTH:  # a link
            return b"%s=\r\n%s=\r\n" % (data[:_WIDTH], data[_WIDTH:])
        lines = [data[i : i + _WIDTH] for i in range(0, len(data), _WIDTH)]
        return b"=\r\n".join(lines) + b"=\r\n"
    return _qp_encoded(text)


def _qp_encoded(text: str) -> bytes:
    """``qp`` the long way: binascii's encoder, then the last line's soft break."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, istext=True)
    if b"\r\n" not in data and b"\n" in encoded:
        # With no CRLF in its input, b2a_qp ends its soft line breaks in a bare LF.
        encoded = encoded.replace(b"\n", b"\r\n")
    if b"=20\r\n" in encoded or b"=09\r\n" in encoded:
        encoded = _within_lines(encoded)
    if not encoded.endswith(b"\r\n"):
        encoded = _soft_break(encoded)
    return encoded


def _within_lines(encoded: bytes) -> bytes:
    """Lines of ``encoded`` over 76 characters cut with soft breaks (RFC 2045 6.7).

    b2a_qp fills a line to 75 characters and escapes whitespace that ends
    it only when it meets the line break: a space there becomes "=20" on a
    line of 77. Such a line is cut where a soft break fits, never inside an escape.
    """
    lines = encoded.split(b"\r\n")
    for k, line in enumerate(lines):
        if len(line) > MAX_LINE:
            # Cut as the last line is; this line's own (hard) break ends it.
            lines[k] = _soft_break(line)[: -len(b"=\r\n")]
    return b"\r\n".join(lines)


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
    # Derived: where the fields are, and each list with b"" in their places,
    # so a recipient's lists are a copy with only the fields filled in.
    _fields: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _literal: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    _canonical: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    _stuffed: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = tuple(i for i, seg in enumerate(self.segments) if isinstance(seg, str))
        names = tuple(seg for seg in self.segments if isinstance(seg, str))
        literal = tuple(seg if isinstance(seg, bytes) else b"" for seg in self.segments)
        canonical = tuple(
            (can or seg) if isinstance(seg, bytes) else b""
            for seg, can in zip(self.segments, self.canonical, strict=True)
        )
        stuffed = self.stuffed or tuple(
            dot_stuffed(seg) if isinstance(seg, bytes) else None for seg in self.segments
        )
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_literal", literal)
        object.__setattr__(self, "_canonical", canonical)
        object.__setattr__(self, "_stuffed", tuple(ready or b"" for ready in stuffed))

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

    def render(
        self, values: Mapping[str, str], escape: Callable[[str], str] | None = None
    ) -> list[bytes]:
        """The encoded segments for one recipient."""
        out = list(self._literal)
        template = self.template
        for n, (i, name) in enumerate(zip(self._fields, self._names, strict=True)):
            value = template.value(n, values) if template is not None else values.get(name, "")
            out[i] = qp(escape(value) if escape is not None else value)
        return out

    def canonical_of(self, rendered: list[bytes]) -> list[bytes]:
        """``render``'s segments in DKIM's relaxed body form."""
        out = list(self._canonical)
        for i in self._fields:
            out[i] = relaxed_body(rendered[i])
        return out

    def wire(self, rendered: list[bytes]) -> list[bytes]:
        """``render``'s segments as they go after SMTP's DATA: dot-stuffed."""
        out = list(self._stuffed)
        for i in self._fields:
            out[i] = dot_stuffed(rendered[i])
        return out
