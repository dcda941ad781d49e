"""Sliding-window rate limits, per client address and per email address.

Kept in the process's memory: enough for one `mailer run`; several web
processes each count on their own. Keys whose window has passed are
dropped as time goes on (a few per request, oldest first), so memory is
bounded by the keys seen within one window and each request costs O(1).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

# Old keys examined per request: more than arrive, so the map drains.
_SWEEP = 4


class SlidingWindow:
    def __init__(
        self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        # Least recently hit first: a key moves to the end on every hit.
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._hits)

    def allow(self, key: str) -> bool:
        """Count one hit for ``key``; False when it is over the limit."""
        now = self.clock()
        start = now - self.seconds
        with self._lock:
            self._forget_idle(start)
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            else:
                self._hits.move_to_end(key)
            while hits and hits[0] <= start:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may hit again (at least 1)."""
        with self._lock:
            hits = self._hits.get(key)
            oldest = hits[0] if hits else self.clock()
        return max(1, math.ceil(oldest + self.seconds - self.clock()))

    def _forget_idle(self, start: float) -> None:
        """Drop keys whose last hit is out of the window (they are at the front)."""
        for _ in range(_SWEEP):
            if not self._hits:
                return
            oldest, hits = next(iter(self._hits.items()))
            if hits and hits[-1] > start:
                return
            del self._hits[oldest]


def address_key(normalized: str) -> str:
    """What the per-address limit counts: the mailbox without its ``+tag``, case-folded,
    so ``li+1@x``, ``li+2@x`` and ``LI@x`` share one allowance."""
    local, at, domain = normalized.rpartition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}".casefold()
