"""The thread that empties the confirmation outbox, in `mailer run` and `mailer web`."""

from __future__ import annotations

import logging
import threading

from mailer.outbox.queue import Outbox

log = logging.getLogger(__name__)


class OutboxWorker:
    """Polls the outbox every ``poll_seconds``; ``stop()`` waits for the round in flight."""

    def __init__(self, outbox: Outbox, poll_seconds: float = 1.0) -> None:
        self.outbox = outbox
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="confirmations", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.outbox.deliver_due()
            except Exception:  # the database may be briefly away; the next round retries
                log.exception("sending confirmations failed; trying again")
            self._stop.wait(self.poll_seconds)
