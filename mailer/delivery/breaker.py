"""The circuit breaker: a campaign that bounces or is blocked too often pauses itself.

A relay that blocks everyone (our DMARC failed, our IP is listed) or a list
full of dead addresses is the sender's problem: going on would burn the
reputation and fail the whole list. The breaker keeps the last ``window``
attempts of one delivery run and trips when the alarming ones among them
(hard bounces, blocks, errors building a message) exceed ``share`` of the
window — 10 of the last 200 by default — so a relay that blocks everyone
costs about a dozen attempts.
"""

from __future__ import annotations

import threading
from collections import Counter, deque

from mailer.delivery.outcomes import ALARMING, Failure, Outcome


class Breaker:
    def __init__(self, share: float, window: int) -> None:
        self.window = max(window, 1)
        self.limit = share * self.window  # trips when the alarming count exceeds this
        self._recent: deque[Failure | None] = deque(maxlen=self.window)
        # Alarming outcomes in the window, kept as they come and go: once per
        # message, a recount of the whole window showed in the send profile.
        self._counts: Counter[Failure] = Counter()
        self._lock = threading.Lock()
        self.reason: str | None = None

    def note(self, outcome: Outcome) -> str | None:
        """Count one outcome; returns the reason once the breaker trips (and then always)."""
        if outcome.status == "skipped":
            return self.reason
        with self._lock:
            if len(self._recent) == self.window and (gone := self._recent[0]) is not None:
                self._counts[gone] -= 1
            kind = outcome.failure if outcome.failure in ALARMING else None
            self._recent.append(kind)
            if kind is not None:
                self._counts[kind] += 1
            bad = sum(self._counts.values())
            if self.reason is None and share_ok(self.limit) and bad > self.limit:
                counts = +self._counts  # without the kinds that left the window
                parts = ", ".join(f"{n} {k.value}" for k, n in sorted(counts.items()))
                self.reason = (
                    f"circuit breaker: {bad} of the last {len(self._recent)} attempts failed "
                    f"({parts}; limit {self.limit:g} of {self.window}); last reply: "
                    f"{outcome.code or ''} {outcome.reply or ''}".rstrip()
                )
            return self.reason


def share_ok(limit: float) -> bool:
    """A share of 0 turns the breaker off."""
    return limit > 0
