"""CSV plumbing shared by import and export: the header, byte counting, cell safety."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from subscribers.errors import ImportFailed, InvalidInput
from subscribers.fields import attribute_key

KNOWN = ("email", "name", "language")
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CountingReader(io.RawIOBase):
    """A raw reader that counts the bytes read, for the progress bar."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.position += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass(frozen=True)
class Header:
    columns: list[str]
    email: int
    name: int
    language: int
    attributes: list[tuple[int, str]]


def read_header(reader: Iterator[list[str]]) -> Header:
    for fields in reader:
        if any(f.strip() for f in fields):
            break
    else:
        raise ImportFailed("the file is empty: expected a header row with an 'email' column")
    columns = [f.strip() for f in fields]
    lowered = [c.lower() for c in columns]
    if "email" not in lowered:
        raise ImportFailed(
            f"the header row has no 'email' column (found: {', '.join(columns) or 'nothing'})"
        )
    seen: set[str] = set()
    attributes = []
    for i, col in enumerate(lowered):
        if not col:
            raise ImportFailed(f"column {i + 1} of the header row has no name")
        if col in seen:
            raise ImportFailed(f"the header row names the column {columns[i]!r} twice")
        seen.add(col)
        if col not in KNOWN:
            try:
                attributes.append((i, attribute_key(columns[i])))
            except InvalidInput as exc:
                raise ImportFailed(f"header row: {exc}") from None
    return Header(
        columns=columns,
        email=lowered.index("email"),
        name=lowered.index("name") if "name" in lowered else -1,
        language=lowered.index("language") if "language" in lowered else -1,
        attributes=attributes,
    )


def safe_cell(value: str) -> str:
    """Defuse spreadsheet formulas (CSV injection) by prefixing a quote."""
    if value and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """Undo ``safe_cell``, so an exported file imports back unchanged."""
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        return value[1:]
    return value
