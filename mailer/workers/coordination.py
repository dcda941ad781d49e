"""What Celery workers share through Redis: the rate limit, heartbeats, dispatch marks.

The token bucket is one Lua script, so taking a token is atomic across every
worker on every machine and uses Redis's clock, not each machine's. A
heartbeat says "this process still works on its leases": a lease owner whose
process once beat and has stopped is dead, wherever it ran, and its rows are
requeued (in doubt) without waiting for the lease to run out. A campaign's
dispatch mark says "chunk tasks for it are out there"; running tasks keep it
alive, so when it lapses the scheduler enqueues what is still due.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import redis

from mailer.delivery.owners import owner_is_dead_here
from mailer.delivery.ratelimit import TokenBucket

log = logging.getLogger(__name__)

PREFIX = "mailer:"
HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TTL = 10  # seconds without a beat before a worker counts as dead
KNOWN_TTL = 7 * 24 * 3600
MARK_TTL = 10  # running chunks renew it every half second

# KEYS[1] bucket; ARGV rate/s, capacity. Returns 0 (token taken) or seconds to wait.
TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or cap
local ts = tonumber(state[2]) or t
tokens = math.min(cap, tokens + math.max(t - ts, 0) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(t))
redis.call('EXPIRE', KEYS[1], math.ceil(cap / rate) + 60)
return tostring(wait)
"""


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


class RedisTokenBucket(TokenBucket):
    """MAILER_RATE_LIMIT for all workers together; rides out a Redis restart."""

    def __init__(self, client: redis.Redis, rate: float, outage: float = 120.0) -> None:
        super().__init__(rate)
        self.client = client
        self.outage = outage
        self._take = client.register_script(TAKE)

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        down_since: float | None = None
        while True:
            try:
                wait = float(
                    self._take(keys=[PREFIX + "ratelimit"], args=[self.rate, self.capacity])
                )
                down_since = None
            except redis.ConnectionError:
                # Redis restarting: wait for it rather than send unlimited.
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > self.outage:
                    raise
                wait = 0.5
            if wait <= 0:
                return
            time.sleep(wait)


def process_key(host: str, pid: int | str) -> str:
    return f"{host}:{pid}"


class Heartbeat:
    """A thread that beats every HEARTBEAT_SECONDS for this process (host:pid)."""

    def __init__(self, client: redis.Redis, on_beat: Callable[[float], None] | None = None) -> None:
        self.client = client
        self.name = process_key(socket.gethostname(), os.getpid())
        self.on_beat = on_beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def beat(self) -> None:
        try:
            pipe = self.client.pipeline()
            now = time.time()
            pipe.set(PREFIX + "alive:" + self.name, now, ex=HEARTBEAT_TTL)
            pipe.set(PREFIX + "known:" + self.name, now, ex=KNOWN_TTL)
            pipe.zadd(PREFIX + "workers", {self.name: now})
            pipe.execute()
            if self.on_beat is not None:
                self.on_beat(now)
        except redis.RedisError as exc:
            log.warning("heartbeat not recorded: %s", exc.__class__.__name__)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.client.delete(PREFIX + "alive:" + self.name)
            self.client.zrem(PREFIX + "workers", self.name)
        except redis.RedisError:
            pass


def live_workers(client: redis.Redis, within: float = HEARTBEAT_TTL) -> dict[str, float]:
    """Worker (host:pid) → its last beat, for those that beat within ``within`` s."""
    now = time.time()
    client.zremrangebyscore(PREFIX + "workers", 0, now - KNOWN_TTL)
    beats: list[tuple[bytes, float]] = client.zrangebyscore(  # type: ignore[assignment]
        PREFIX + "workers", now - within, "+inf", withscores=True
    )
    return {_text(name): float(score) for name, score in beats}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def dead_owner(client: redis.Redis) -> Callable[[str], bool]:
    """For DeliveryStore.recover: dead here (by pid), or a worker whose beats stopped.

    An owner that never beat (a `mailer send --wait` elsewhere) is left to its
    lease: silence proves nothing about a process that never spoke.
    """

    def dead(owner: str) -> bool:
        if owner_is_dead_here(owner):
            return True
        host, _, rest = owner.partition(":")
        name = process_key(host, rest.partition(":")[0])
        try:
            known, alive = client.mget(PREFIX + "known:" + name, PREFIX + "alive:" + name)
        except redis.RedisError:
            return False
        return known is not None and alive is None

    return dead


def mark_key(campaign_id: int) -> str:
    return f"{PREFIX}dispatched:{campaign_id}"


def claim_dispatch(client: redis.Redis, campaign_id: int) -> bool:
    """True for the one caller that should enqueue this campaign's chunks now."""
    return bool(client.set(mark_key(campaign_id), "1", nx=True, ex=MARK_TTL))


def keep_dispatch(client: redis.Redis, campaign_id: int) -> None:
    client.expire(mark_key(campaign_id), MARK_TTL)


def drop_dispatch(client: redis.Redis, campaign_id: int) -> None:
    client.delete(mark_key(campaign_id))
