"""A failed acknowledgement must not leave a worker idle for good (kombu's Redis transport).

kombu's Redis ``QoS.ack`` (5.7.0) first removes the message from its unacked
index in Redis, then forgets it locally. If Redis is gone at that moment (a
restart), the first step raises ("Couldn't ack", logged by kombu) and the
second never runs: the worker keeps counting the message as unacknowledged,
its prefetch window (one chunk) stays full, and it never asks the broker for
another task. It is alive, beating its heartbeat, and idle; and since it no
longer reads from the broker it never notices the connection is gone, so it
never reconnects. The fleet test that restarts Redis mid-campaign caught it.

Here the local step always runs, so the worker reads again, finds the broker
gone, and reconnects as Celery does. The message itself stays in Redis's
unacked set (or went with a Redis restarted without persistence); if it is
delivered again after the visibility timeout, running a chunk twice is
harmless: the ledger's lease decides who sends each row.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual


def _ack(self: Any, delivery_tag: Any) -> None:
    try:
        self._remove_from_indices(delivery_tag).execute()
    finally:
        virtual.QoS.ack(self, delivery_tag)  # type: ignore[no-untyped-call]


def _reject(self: Any, delivery_tag: Any, requeue: bool = False) -> None:
    try:
        if requeue:
            self.restore_by_tag(delivery_tag, leftmost=True)
        else:
            self._remove_from_indices(delivery_tag).execute()
    finally:
        virtual.QoS.ack(self, delivery_tag)  # type: ignore[no-untyped-call]


def install() -> None:
    """Make the Redis transport forget a message locally even when its ack fails."""
    kombu_redis.QoS.ack = _ack  # type: ignore[method-assign]
    kombu_redis.QoS.reject = _reject  # type: ignore[method-assign]
