"""Fixtures of the transport tests."""

import smtplib
from collections.abc import Iterator

import pytest


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every write the client makes, as it makes it."""
    seen: list[bytes] = []
    original = smtplib.SMTP.send

    def send(self: smtplib.SMTP, s: bytes | str) -> None:
        seen.append(s if isinstance(s, bytes) else s.encode())
        original(self, s)

    monkeypatch.setattr(smtplib.SMTP, "send", send)
    yield seen
