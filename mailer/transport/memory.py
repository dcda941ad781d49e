"""A transport that keeps messages in a list: for unit tests and previews."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailer.transport.base import SendResult


@dataclass
class Sent:
    envelope_from: str
    recipient: str
    data: bytes
    smtputf8: bool


@dataclass
class MemoryTransport:
    sent: list[Sent] = field(default_factory=list)
    closed: bool = False

    def send(
        self, envelope_from: str, recipient: str, data: bytes, smtputf8: bool = False
    ) -> SendResult:
        self.sent.append(Sent(envelope_from, recipient, data, smtputf8))
        return SendResult(250, "OK queued in memory")

    def close(self) -> None:
        self.closed = True
