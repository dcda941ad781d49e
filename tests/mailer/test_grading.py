"""RFC 3463 grading of SMTP replies and DSN statuses."""

from __future__ import annotations

import pytest

from mailer.grading import Grade, enhanced_code, grade_reply, grade_status


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (550, "5.1.1 <x@example.org>: Recipient address rejected: User unknown", Grade.HARD),
        (550, "5.1.10 Recipient address rejected: null MX", Grade.HARD),
        (550, "5.2.1 Mailbox disabled", Grade.HARD),
        (552, "5.2.2 Mailbox full", Grade.SOFT),
        (
            550,
            "5.7.26 Unauthenticated email from example.org is not accepted due to DMARC",
            Grade.BLOCK,
        ),
        (554, "5.7.1 Message rejected as spam", Grade.BLOCK),
        # Postfix refuses our return path at RCPT time (smtpd_delay_reject): the
        # relay's problem with us, not the recipient's address; suppress nobody.
        (
            550,
            "5.1.8 <bounces+1-abc@example.org>: Sender address rejected: Domain not found",
            Grade.BLOCK,
        ),
        (
            550,
            "5.1.7 <bounces+1-abc@example.org>: Sender address rejected: undeliverable address",
            Grade.BLOCK,
        ),
        (552, "5.3.4 Message too big for system", Grade.FAIL),
        (450, "4.2.1 Try again later", Grade.SOFT),
        (421, "Service not available", Grade.SOFT),
        (550, "Mailbox unavailable", Grade.HARD),
        (554, "Transaction failed", Grade.FAIL),
        # An enhanced code of another class than the reply does not decide.
        (550, "4.2.0 odd relay", Grade.HARD),
        # An IP address is not an enhanced code.
        (554, "blocked using 5.7.12.1 list", Grade.FAIL),
        (250, "2.0.0 Ok", None),
    ],
)
def test_grade_reply(code: int, text: str, expected: Grade | None) -> None:
    assert grade_reply(code, text) is expected


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        ("5.1.1", "failed", Grade.HARD),
        ("4.4.1", "failed", Grade.SOFT),
        ("4.4.7", "delayed", None),
        ("5.2.2 (mailbox full)", "failed", Grade.SOFT),
        ("5.7.1", "failed", Grade.BLOCK),
        ("5.1.8", "failed", Grade.BLOCK),
        ("2.0.0", "delivered", None),
        ("5.1.1", None, Grade.HARD),
        ("", "failed", None),
    ],
)
def test_grade_status(status: str, action: str | None, expected: Grade | None) -> None:
    assert grade_status(status, action) is expected


def test_enhanced_code_is_found_in_text() -> None:
    assert enhanced_code("550-5.1.1 The email account does not exist") == "5.1.1"
    assert enhanced_code("no code here 10.0.0.1") is None
