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

from mailer.content.plaintext import width_of, wrap
from mailer.render.urlslots import MARK, Slot, slot_for

# Our own per-recipient links: long URLs that no re-wrapping could shorten.
LINK_FIELDS = ("unsubscribe_url", "preferences_url")
# A plain-text line's lead: quote marks, then a list marker.
_LEAD = re.compile(r"[ \t]*(?:>[ \t]*)*(?:[-*+][ \t]+|\d+\.[ \t]+)?")


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
        slots: list[Slot | None] = []
        before = ""  # the text so far, earlier fields as MARK
        # re.split alternates literal, group, literal…: turn groups into names.
        for i in range(1, len(pieces), 2):
            pieces[i] = self.fields[int(pieces[i])]
            if html:
                before = (before + pieces[i - 1])[-50_000:]
                slots.append(slot_for(before))
                before += MARK
        return SplitTemplate(tuple(pieces), tuple(slots) if html else ())

    def split_text(self, text: str, width: int) -> SplitTemplate:
        """Plain text, wrapped at ``width`` with sentinels in place: a line holding a
        personal field is kept whole, to be wrapped again if a long name makes it
        too wide (a 60-character name would otherwise make a 125-column line)."""
        parts: list[str] = []
        lines: list[TextLine | None] = []
        literal: list[str] = []
        for k, line in enumerate(text.split("\n")):
            if k:
                literal.append("\n")
            pieces = self._pattern.split(line)
            for i in range(1, len(pieces), 2):
                pieces[i] = self.fields[int(pieces[i])]
            names = pieces[1::2]
            if names and not all(n in LINK_FIELDS for n in names):
                parts += ["".join(literal), names[0]]
                lines.append(TextLine(tuple(pieces), width))
                literal = []
            else:
                for i, piece in enumerate(pieces):
                    if i % 2:
                        parts += ["".join(literal), piece]
                        lines.append(None)
                        literal = []
                    else:
                        literal.append(piece)
        parts.append("".join(literal))
        return SplitTemplate(tuple(parts), (), tuple(lines))


@dataclass(frozen=True)
class TextLine:
    """One plain-text line with personal fields: ``pieces`` alternate literal, field."""

    pieces: tuple[str, ...]
    width: int

    @property
    def fields(self) -> tuple[str, ...]:
        return self.pieces[1::2]

    def fill(self, values: Mapping[str, str]) -> str:
        text = "".join(
            values.get(piece, "") if i % 2 else piece for i, piece in enumerate(self.pieces)
        )
        if width_of(text) <= self.width:
            return text
        lead = _LEAD.match(text).group()  # type: ignore[union-attr]
        rest = re.sub(r"[^>\s]", " ", lead)
        return "\n".join(wrap(text[len(lead) :], self.width, lead, rest))


@dataclass(frozen=True)
class SplitTemplate:
    """``parts[0], field, parts[2], field, …``: odd positions name a field."""

    parts: tuple[str, ...]
    # Per field in HTML: None (text), or what a URL-bearing place it lands in
    # lets it hold (see urlslots.py).
    slots: tuple[Slot | None, ...] = ()
    # Per field, in plain text: None, or the whole line it stands for.
    lines: tuple[TextLine | None, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        if not self.lines:
            return self.parts[1::2]
        names: list[str] = []
        for name, line in zip(self.parts[1::2], self.lines, strict=True):
            names += line.fields if line else (name,)
        return tuple(names)

    def value(self, n: int, values: Mapping[str, str]) -> str:
        """The ``n``th field's value; where it could begin a URL, only http(s) or mailto."""
        line = self.lines[n] if n < len(self.lines) else None
        if line is not None:
            return line.fill(values)
        value = values.get(self.parts[2 * n + 1], "")
        slot = self.slots[n] if n < len(self.slots) else None
        return slot.guard(value) if slot is not None else value

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
