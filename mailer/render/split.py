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
from typing import Any


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

    def split(self, text: str) -> SplitTemplate:
        pieces = self._pattern.split(text)
        # re.split alternates literal, group, literal…: turn groups into names.
        for i in range(1, len(pieces), 2):
            pieces[i] = self.fields[int(pieces[i])]
        return SplitTemplate(tuple(pieces))


@dataclass(frozen=True)
class SplitTemplate:
    """``parts[0], field, parts[2], field, …``: odd positions name a field."""

    parts: tuple[str, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return self.parts[1::2]

    def fill(self, values: Mapping[str, str], escape: Callable[[str], str] | None = None) -> str:
        out = list(self.parts)
        for i in range(1, len(out), 2):
            value = values.get(out[i], "")
            out[i] = escape(value) if escape is not None else value
        return "".join(out)

    def fill_html(self, values: Mapping[str, str]) -> str:
        return self.fill(values, _escape_html)


def _escape_html(value: str) -> str:
    return html.escape(value, quote=True)


class AttributeProxy:
    """``subscriber.attributes.country`` (or ``["country"]``) in a template."""

    def __init__(self, sentinels: Sentinels) -> None:
        self._sentinels = sentinels

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return self._sentinels(f"attr.{key}")

    def __getitem__(self, key: str) -> str:
        return self._sentinels(f"attr.{key}")


class SubscriberProxy:
    """What templates may say of the recipient; every value is a sentinel."""

    def __init__(self, sentinels: Sentinels) -> None:
        self.name = sentinels("name")
        self.email = sentinels("email")
        self.attributes = AttributeProxy(sentinels)

    def __getattr__(self, key: str) -> Any:
        raise AttributeError(
            f"subscriber has no field {key!r} (use name, email or attributes.NAME)"
        )
