"""The rate limiter: expired keys are dropped, and a hit costs the same at 100k keys."""

import time

from fastapi.testclient import TestClient

from mailer.web.limits import SlidingWindow, address_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_counts_per_key_and_forgets() -> None:
    clock = Clock()
    w = SlidingWindow(2, 60, clock)
    assert [w.allow("a"), w.allow("a"), w.allow("a"), w.allow("b")] == [True, True, False, True]
    clock.now += 61
    assert w.allow("a")


def test_expired_keys_are_dropped_as_time_goes_on() -> None:
    clock = Clock()
    w = SlidingWindow(3, 60, clock)
    for i in range(10_000):
        w.allow(f"k{i}")
    assert len(w) == 10_000
    clock.now += 61
    for i in range(3_000):  # fresh traffic sweeps the stale keys out
        w.allow(f"fresh{i}")
    assert len(w) == 3_000  # every stale key is gone, none of the live ones
    assert [w.allow("fresh1") for _ in range(3)] == [True, True, False]  # its count kept


def _per_hit(w: SlidingWindow, clock: Clock, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        clock.now += 0.0001
        w.allow(f"probe{i % 50}")
    return (time.perf_counter() - start) / n


def test_a_hit_costs_the_same_with_100k_live_keys() -> None:
    clock = Clock()
    small, big = SlidingWindow(3, 3600, clock), SlidingWindow(3, 3600, clock)
    for i in range(100_000):
        big.allow(f"k{i}")
    small.allow("k0")
    costs = []
    for _ in range(3):  # alternate, so noise on a shared machine hits both alike
        costs.append((_per_hit(small, clock, 5_000), _per_hit(big, clock, 5_000)))
    ratio = min(b for _, b in costs) / min(s for s, _ in costs)
    assert ratio < 3, costs
    assert len(big) == 100_050


def test_the_address_limit_ignores_plus_tags_and_case(client: TestClient) -> None:
    assert address_key("li.wei+news@example.org") == "li.wei@example.org"
    assert address_key("ß+x@example.org") == address_key("SS@example.org".lower())
    codes = [
        client.post("/api/lists/alerts/subscribe", json={"email": e}).status_code
        for e in (
            "same+1@example.org",
            "same+2@example.org",
            "SAME@Example.org",
            "same+x@example.org",
        )
    ]
    assert codes == [202, 202, 202, 429]
