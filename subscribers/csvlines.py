"""The lines of an import file for csv.reader, each bounded, so one bad row costs one row.

csv.reader over a whole file lets one row decide the fate of the file: a
10 MB cell trips csv.field_size_limit and a quote that is never closed
swallows every line after it. Here csv.reader is fed one physical line at a
time; a row that grows past MAX_ROW, or that the CSV grammar rejects, is
reported by its first line and the lines after that one are read again as
rows of their own. Only one row's lines are ever held, so memory stays flat.

Lines are decoded one at a time, so a byte that is not UTF-8 is reported
with its real offset and line.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from typing import BinaryIO

from subscribers.errors import ImportFailed

MAX_ROW = 100_000  # characters; the widest good row is far smaller (fields.py limits)
_BARE_CR = re.compile(rb"(?<=\r)(?!\n)")  # splits after a CR that is not part of a CRLF
_BOM = b"\xef\xbb\xbf"
# (line number, text, whole): a line longer than the limit has only its head, to name it.
Line = tuple[int, str, bool]
_HEAD = 320


class RowTooLong(Exception):
    """Raised into csv.reader when a row passes MAX_ROW characters."""


class LineSource:
    """Physical lines (ending in CRLF, LF or CR) with their numbers; lines can be put back.

    The common case (LF or CRLF endings) is one C-level readline per line;
    bare CRs and lines past the limit take a slower path.
    """

    def __init__(self, raw: BinaryIO, name: str, limit: int = MAX_ROW) -> None:
        self.name = name
        self.position = 0  # bytes read and split into lines, for the progress bar
        self._readline = raw.readline
        self._limit = limit
        self._number = 0
        self._pending: deque[Line] = deque()
        self._split: deque[bytes] = deque()  # the rest of a read that held bare CRs
        self._carry = b""  # an unfinished line from the end of such a read

    def put_back(self, lines: list[Line]) -> None:
        self._pending.extendleft(reversed(lines))

    def next(self) -> Line | None:
        if self._pending:
            return self._pending.popleft()
        data = self._split.popleft() if self._split else self._read()
        if not data:
            return None
        offset = self.position
        self.position += len(data)
        self._number += 1
        if len(data) > self._limit and data[-1:] not in (b"\n", b"\r"):
            self._skip_rest()
            return self._number, data[:_HEAD].decode("utf-8", "replace"), False
        if self._number == 1 and data.startswith(_BOM):
            data, offset = data[3:], offset + 3
        try:
            return self._number, data.decode("utf-8"), True
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                f"{self.name} is not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset "
                f"{offset + exc.start} (line {self._number}) cannot be decoded; save the file "
                "as UTF-8 and try again"
            ) from None

    def _read(self) -> bytes:
        data = self._carry + self._readline(self._limit + 1 - len(self._carry))
        self._carry = b""
        cr = data.find(b"\r")
        if cr < 0 or cr == len(data) - 1 or (cr == len(data) - 2 and data[-1:] == b"\n"):
            return data  # no CR, or only the CR of a final CRLF (or a final CR)
        parts = _BARE_CR.split(data)
        if parts[-1][-1:] not in (b"\n", b"\r") and len(parts) > 1:
            self._carry = parts.pop()  # the line goes on in the next read
        self._split.extend(parts[1:])
        return parts[0]

    def _skip_rest(self) -> None:
        """Read past the rest of a line already reported as too long."""
        while True:
            chunk = self._split.popleft() if self._split else self._read()
            self.position += len(chunk)
            if not chunk or chunk[-1:] in (b"\n", b"\r"):
                return


class Rows:
    """csv.reader's input: lines of the current row, stopped at MAX_ROW characters."""

    def __init__(self, source: LineSource, limit: int = MAX_ROW) -> None:
        self.source = source
        self.limit = limit
        self.lines: list[Line] = []
        self._size = 0
        self.reader = csv.reader(self, strict=True)

    def __iter__(self) -> Rows:
        return self

    def __next__(self) -> str:
        item = self.source.next()
        if item is None:
            raise StopIteration
        self.lines.append(item)
        _number, text, whole = item
        if not whole:
            raise RowTooLong
        self._size += len(text)
        if self._size > self.limit:
            raise RowTooLong
        return text

    def read(self) -> tuple[int, list[str]] | tuple[int, str] | None:
        """The next row as (line, fields), a bad row as (line, reason), or None at the end."""
        self.lines = []
        self._size = 0
        try:
            fields = next(self.reader)
        except StopIteration:
            return None
        except (RowTooLong, csv.Error) as exc:
            return self._skip(exc)
        return self.lines[0][0], fields

    def _skip(self, exc: Exception) -> tuple[int, str]:
        """Report the row by its first line; read the lines after that one again."""
        first = self.lines[0][0]
        many = len(self.lines) > 1
        self.source.put_back(self.lines[1:])
        if isinstance(exc, RowTooLong):
            if many:
                return first, f"a quoted cell is not closed within {self.limit:,} characters"
            return first, f"the row is longer than {self.limit:,} characters"
        if str(exc) == "unexpected end of data":
            return first, "a quoted cell is not closed before the end of the file"
        if many:
            last = self.lines[-1][0]
            return first, (
                f"a quoted cell is not closed on this line (the CSV reader stopped at line "
                f"{last}: {exc})"
            )
        return first, f"the CSV cannot be read here: {exc}"

    def first_cell(self) -> str:
        """The start of the current row's first line, to name a row that did not parse."""
        text = self.lines[0][1] if self.lines else ""
        return text.split(",", 1)[0].strip().strip('"')[:_HEAD]
