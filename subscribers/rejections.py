"""Rows an import rejected, kept in temporary files rather than in memory.

A file of millions of bad rows must not cost memory in proportion: each
rejection is one JSON line on disk. Rows come in runs, each sorted by line
(the first pass over the file, then each check against the database);
iterating merges the runs into one sequence by line.
"""

from __future__ import annotations

import heapq
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

MAX_SHOWN = 320  # characters of a rejected cell or reason kept: enough to find the row


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    email: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "email": self.email, "reason": self.reason}


class RejectionLog:
    """Append rejections run by run; ``len`` counts them, iterating yields them by line."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mailer-rejected-")
        self._runs: list[Path] = []
        self._out: TextIO | None = None
        self._count = 0

    def new_run(self) -> None:
        """Later rows may have lower line numbers than the run before; not within a run."""
        self._close_run()
        path = Path(self._dir.name) / f"run-{len(self._runs)}.jsonl"
        self._runs.append(path)
        self._out = path.open("w", encoding="utf-8")

    def add(self, line: int, email: str, reason: str) -> None:
        if self._out is None:
            self.new_run()
        assert self._out is not None
        self._out.write(json.dumps([line, _clip(email), _clip(reason)], ensure_ascii=False))
        self._out.write("\n")
        self._count += 1

    def _close_run(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Rejection]:
        self._close_run()
        runs = [self._read(path) for path in self._runs]
        return heapq.merge(*runs, key=lambda r: r.line)

    @staticmethod
    def _read(path: Path) -> Iterator[Rejection]:
        with path.open(encoding="utf-8") as lines:
            for text in lines:
                line, email, reason = json.loads(text)
                yield Rejection(line, email, reason)

    def close(self) -> None:
        self._close_run()
        self._dir.cleanup()
