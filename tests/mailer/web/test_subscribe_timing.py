"""A subscribe request takes as long for a new address as for a known or a
suppressed one: the same work (one outbox row), measured as a ratio."""

import statistics
import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from mailer.db import session_scope
from mailer.web.app import WebState
from subscribers.members import add_subscriber, suppress


def test_new_known_and_suppressed_addresses_take_alike(client: TestClient, engine: Engine) -> None:
    web: WebState = client.app.state.web  # type: ignore[attr-defined]
    web.per_client.limit = web.per_email.limit = 10**6
    with session_scope(engine) as s:
        add_subscriber(s, "known@example.org", "lmec-news", confirmed=True)
        suppress(s, "blocked@example.org")
    samples: dict[str, list[float]] = {"new": [], "known": [], "suppressed": []}

    def post(kind: str, address: str) -> None:
        start = time.perf_counter()
        r = client.post("/api/lists/lmec-news/subscribe", json={"email": address})
        samples[kind].append(time.perf_counter() - start)
        assert r.status_code == 202

    for i in range(3):  # warm up every path first
        post("new", f"warm{i}@example.org")
    samples["new"].clear()
    for i in range(20):  # interleaved, so drift on a busy machine hits all three alike
        post("new", f"new{i}@example.org")
        post("known", "known@example.org")
        post("suppressed", "blocked@example.org")
    medians = {kind: statistics.median(times) for kind, times in samples.items()}
    ratio = max(medians.values()) / min(medians.values())
    print(f"subscribe medians (ms): { {k: round(v * 1000, 2) for k, v in medians.items()} }")
    assert ratio < 2, medians
