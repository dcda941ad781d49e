"""What the worker threads of one delivery run share, and each worker's connection."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mailer.delivery.breaker import Breaker
from mailer.message import MessageFactory
from mailer.transport import Transport

log = logging.getLogger(__name__)


@dataclass
class Run:
    """What the workers of one campaign's run share."""

    campaign_id: int
    stop: threading.Event  # the caller's: SIGTERM, `mailer run` stopping
    breaker: Breaker
    factory: Callable[[str], MessageFactory]
    halt: threading.Event = field(default_factory=threading.Event)  # paused, or a worker died

    def stopped(self) -> bool:
        return self.stop.is_set() or self.halt.is_set()

    def wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopped() and (left := end - time.monotonic()) > 0:
            self.stop.wait(min(left, 0.05))


class Link:
    """A worker's transport, opened on first use and dropped when its state is unknown."""

    def __init__(self, factory: Callable[[], Transport]) -> None:
        self.factory = factory
        self.transport: Transport | None = None

    def get(self) -> Transport:
        if self.transport is None:
            self.transport = self.factory()
        return self.transport

    def close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            try:
                transport.close()
            except Exception:  # closing a broken session: nothing left to lose
                log.debug("closing a transport failed", exc_info=True)
