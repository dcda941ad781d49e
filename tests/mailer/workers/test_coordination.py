"""The Redis side: one rate limit for all workers, heartbeats, dispatch marks."""

from __future__ import annotations

import threading
import time

import redis

from mailer.workers import coordination
from tests.mailer.workers.conftest import RedisServer


def redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return float(seconds) + micros / 1e6


def test_the_rate_limit_holds_across_workers(redis_server: RedisServer) -> None:
    rate = 40.0
    # Four "workers", each with its own client and bucket object, share one limit.
    buckets = [
        coordination.RedisTokenBucket(coordination.connect(redis_server.url), rate)
        for _ in range(4)
    ]
    taken = [0] * len(buckets)
    stop = threading.Event()

    def take(i: int) -> None:
        while not stop.is_set():
            buckets[i].acquire()
            taken[i] += 1

    client = coordination.connect(redis_server.url)
    start = redis_now(client)
    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(buckets))]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join()
    elapsed = redis_now(client) - start
    # At most the burst (one second's worth) plus the rate over the time measured.
    assert sum(taken) <= buckets[0].capacity + rate * elapsed + len(buckets)
    assert sum(taken) >= rate * 0.5, "the bucket starved its takers"
    assert sum(1 for n in taken if n) >= 2, "one worker took every token"


def test_a_rate_of_zero_never_touches_redis() -> None:
    dead = coordination.connect("redis://127.0.0.1:1/0")
    coordination.RedisTokenBucket(dead, 0).acquire()  # would raise if it connected


def test_an_owner_is_dead_once_its_beats_stop(redis_server: RedisServer) -> None:
    client = coordination.connect(redis_server.url)
    beat = coordination.Heartbeat(client)
    beat.start()
    dead = coordination.dead_owner(client)
    me = f"{beat.name}:abc123"
    assert not dead(me)
    assert beat.name in coordination.live_workers(client)
    beat.stop()  # as if its beats had timed out
    assert dead(me)
    assert beat.name not in coordination.live_workers(client)
    # A process that never beat (e.g. `mailer send --wait`) is left to its lease.
    assert not dead("otherhost:4242:abcdef")


def test_one_dispatch_per_campaign_until_the_mark_lapses(redis_server: RedisServer) -> None:
    client = coordination.connect(redis_server.url)
    assert coordination.claim_dispatch(client, 7)
    assert not coordination.claim_dispatch(client, 7)
    assert coordination.claim_dispatch(client, 8)
    coordination.drop_dispatch(client, 7)
    assert coordination.claim_dispatch(client, 7)
    assert 0 < client.ttl(coordination.mark_key(7)) <= coordination.MARK_TTL
