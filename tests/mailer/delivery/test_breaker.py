"""The circuit breaker's window: counts kept as outcomes come and go match a recount."""

from __future__ import annotations

import random
from collections import Counter

from mailer.campaigns.models import DeliveryStatus
from mailer.delivery.breaker import Breaker
from mailer.delivery.outcomes import ALARMING, Failure, Outcome


def outcome(failure: Failure | None) -> Outcome:
    status = DeliveryStatus.SENT if failure is None else DeliveryStatus.FAILED
    return Outcome(1, status, 550 if failure else 250, "x", failure=failure)


def test_the_running_count_matches_a_recount_of_the_window() -> None:
    rng = random.Random(7)
    kinds = [None, None, None, *Failure]
    breaker = Breaker(share=1.0, window=50)  # never trips: only the counting is checked
    seen: list[Failure | None] = []
    for _ in range(2000):
        f = rng.choice(kinds)
        breaker.note(outcome(f))
        seen.append(f if f in ALARMING else None)
        window = seen[-50:]
        expected = Counter(x for x in window if x is not None)
        assert +breaker._counts == expected


def test_it_trips_when_the_window_holds_too_many_and_says_what() -> None:
    breaker = Breaker(share=0.1, window=20)  # more than 2 of the last 20
    for _ in range(30):
        assert breaker.note(outcome(None)) is None
    assert breaker.note(outcome(Failure.HARD)) is None
    assert breaker.note(outcome(Failure.BLOCK)) is None
    reason = breaker.note(outcome(Failure.HARD))
    assert reason is not None and "3 of the last 20" in reason
    assert "1 block" in reason and "2 hard" in reason


def test_alarming_outcomes_that_left_the_window_no_longer_count() -> None:
    breaker = Breaker(share=0.1, window=20)
    breaker.note(outcome(Failure.HARD))
    breaker.note(outcome(Failure.HARD))
    for _ in range(20):  # both hard bounces leave the window
        breaker.note(outcome(None))
    breaker.note(outcome(Failure.HARD))
    breaker.note(outcome(Failure.HARD))
    assert breaker.note(outcome(None)) is None  # 2 in the window, not 4
