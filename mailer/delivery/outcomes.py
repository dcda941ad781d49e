"""What one attempt's result means for its recipient: the ledger row and any bounce.

The reply is graded by its RFC 3463 enhanced code (mailer.grading):
hard failures suppress the address, soft ones are retried and score a soft
bounce once retrying ends, blocks and other permanent failures fail this
delivery and suppress nobody. Timeouts and dropped connections say nothing
about the address: retried, never scored. A refusal we made ourselves (no
server said no) suppresses nobody either.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from mailer.campaigns.models import BounceKind, DeliveryStatus
from mailer.grading import Grade, grade_reply
from mailer.settings import Settings
from mailer.transport import PermanentFailure, TemporaryFailure


class Failure(StrEnum):
    """``deliveries.failure``: how a failed or deferred attempt was graded."""

    HARD = "hard"
    SOFT = "soft"
    BLOCK = "block"
    FAIL = "fail"
    ERROR = "error"  # a bug or bad data while building or sending this one message


# What the circuit breaker counts against the campaign's health.
ALARMING = frozenset({Failure.HARD, Failure.BLOCK, Failure.ERROR})


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 60.0
    maximum: float = 3600.0
    deadline: timedelta = timedelta(hours=72)
    # A count instead of (or besides) the deadline: what a test can rely on
    # on a machine of any speed, where seconds since the row was made cannot.
    max_attempts: int | None = None

    def next_attempt(self, attempts: int, first_try: datetime, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failures, or None once past the deadline."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        delay = min(self.base * 2 ** max(attempts - 1, 0), self.maximum)
        delay *= random.uniform(0.9, 1.1)  # spread retries out
        when = now + timedelta(seconds=delay)
        return when if when <= first_try + self.deadline else None

    @classmethod
    def from_settings(cls, s: Settings) -> RetryPolicy:
        return cls(
            s.retry_base_seconds, s.retry_max_seconds, timedelta(hours=s.retry_deadline_hours)
        )


@dataclass
class Outcome:
    id: int
    status: DeliveryStatus
    code: int | None = None
    reply: str | None = None
    message_id: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    failure: Failure | None = None
    # (address, kind, code, reply): a bounce to record under the bounce policy.
    bounce: tuple[str, BounceKind, int, str] | None = None
    in_doubt: bool = False  # the attempt may have delivered it after all


def _grade(exc: TemporaryFailure | PermanentFailure) -> Failure:
    if isinstance(exc, TemporaryFailure):
        return Failure.SOFT
    if not exc.from_server:
        return Failure.FAIL
    grade = grade_reply(exc.code, exc.reply)
    return {
        Grade.HARD: Failure.HARD,
        Grade.SOFT: Failure.SOFT,
        Grade.BLOCK: Failure.BLOCK,
    }.get(grade, Failure.FAIL)  # type: ignore[arg-type]


def failed_attempt(
    row_id: int,
    email: str,
    attempts: int,
    first_try: datetime,
    exc: TemporaryFailure | PermanentFailure,
    message_id: str,
    retry: RetryPolicy,
    now: datetime,
) -> Outcome:
    """The outcome of attempt number ``attempts`` that ``exc`` ended."""
    grade = _grade(exc)
    base = Outcome(
        row_id,
        DeliveryStatus.FAILED,
        exc.code,
        exc.reply,
        message_id,
        failure=grade,
        in_doubt=isinstance(exc, TemporaryFailure) and exc.uncertain,
    )
    if grade is Failure.SOFT:
        retry_at = retry.next_attempt(attempts, first_try, now)
        if retry_at is not None:
            return replace(base, status=DeliveryStatus.DEFERRED, next_attempt_at=retry_at)
        # Only a server's reply scores: a timeout is nobody's verdict on the address.
        bounce = (email, BounceKind.SOFT, exc.code, exc.reply) if exc.code else None
        return replace(base, reply=f"gave up after {attempts} attempts: {exc.reply}", bounce=bounce)
    if grade is Failure.HARD:
        return replace(base, bounce=(email, BounceKind.HARD, exc.code, exc.reply))
    return base


def error_outcome(row_id: int, exc: BaseException, message_id: str | None = None) -> Outcome:
    """A bug or bad data while building or sending one message: this recipient fails."""
    text = f"{type(exc).__name__}: {exc}"
    return Outcome(
        row_id,
        DeliveryStatus.FAILED,
        reply=f"error: {text}"[:2000],
        message_id=message_id,
        failure=Failure.ERROR,
    )
