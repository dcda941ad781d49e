"""A worker whose acknowledgement fails (Redis restarting) still takes the next task."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from kombu import Connection
from kombu.transport import redis as kombu_redis

from mailer.workers import redisack
from tests.mailer.workers.conftest import RedisServer


@pytest.fixture
def patched() -> Iterator[None]:
    ack, reject = kombu_redis.QoS.ack, kombu_redis.QoS.reject
    redisack.install()
    yield
    kombu_redis.QoS.ack, kombu_redis.QoS.reject = ack, reject  # type: ignore[method-assign]


@pytest.mark.parametrize("how", ["ack", "reject", "requeue"])
def test_a_failed_ack_frees_the_prefetch_window(
    patched: None, redis_server: RedisServer, how: str
) -> None:
    with Connection(redis_server.url, transport_options={"max_retries": 0}) as conn:
        queue = conn.SimpleQueue("chunks")
        queue.consumer.qos(prefetch_count=1)  # as a worker's (worker_prefetch_multiplier=1)
        queue.put({"chunk": 1})
        message = queue.get(timeout=5)
        qos = queue.consumer.channel.qos
        assert not qos.can_consume()  # the window is full until the message is acked
        redis_server.shutdown()
        with pytest.raises(redis.ConnectionError):
            if how == "ack":
                message.ack()
            else:
                message.reject(requeue=how == "requeue")
        # kombu as shipped leaves the message counted as unacked here, for good.
        assert qos.can_consume()
