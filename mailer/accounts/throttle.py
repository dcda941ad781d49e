"""Failed-login limits per account and per client, in the serving process's memory.

Only failures count. Past ``per_account`` failures for one address, or
``per_client`` from one client address, within ``seconds``, every login for
that key is refused (even with the right password) until the window passes:
a guesser learns nothing from the answers. Several web processes each count
on their own, like the subscriber app's limits.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(
        self,
        per_account: int = 5,
        per_client: int = 20,
        seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_client = per_client
        self.seconds = seconds
        self.clock = clock
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _count(self, key: str, now: float) -> int:
        hits = self._fails.get(key)
        if not hits:
            return 0
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        return len(hits)

    def blocked(self, account: str, client: str) -> bool:
        now = self.clock()
        with self._lock:
            return (
                self._count("a:" + account.strip().lower(), now) >= self.per_account
                or self._count("c:" + client, now) >= self.per_client
            )

    def attempt(self, account: str, client: str) -> bool:
        """Check and count one login attempt in one step: False when blocked.

        Counted before the password is checked, as a failure until
        ``succeeded`` takes it back: checking first and counting after the
        slow hash let every request sent at once through (40 of 40 guesses
        for a limit of 5).
        """
        now = self.clock()
        with self._lock:
            if (
                self._count("a:" + account.strip().lower(), now) >= self.per_account
                or self._count("c:" + client, now) >= self.per_client
            ):
                return False
            self._record(account, client, now)
        return True

    def succeeded(self, account: str, client: str) -> None:
        """Take back the attempt counted for a login that succeeded."""
        with self._lock:
            for key in ("a:" + account.strip().lower(), "c:" + client):
                hits = self._fails.get(key)
                if hits:
                    hits.pop()

    def failed(self, account: str, client: str) -> None:
        now = self.clock()
        with self._lock:
            self._record(account, client, now)

    def _record(self, account: str, client: str, now: float) -> None:
        self._fails["a:" + account.strip().lower()].append(now)
        self._fails["c:" + client].append(now)
        if len(self._fails) > 100_000:  # forget idle keys rather than grow forever
            for k in [k for k, v in self._fails.items() if not v]:
                del self._fails[k]
