"""What the delivery engine needs of a transport, and how sending can fail.

A failure belongs to the recipient or to the session (../shared/DESIGN.md,
"Who a failure belongs to"). A recipient's failure is either temporary
(TemporaryFailure: a 4xx reply, a timeout, a dropped connection) or permanent
(PermanentFailure: a 5xx reply, an address the server cannot take); the
engine grades the reply further. A SessionFailure (cannot connect, TLS,
EHLO, AUTH, MAIL FROM refused) says nothing about the recipient: nobody is
touched, and the campaign waits or pauses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mailer.errors import MailerError


@dataclass(frozen=True)
class SendResult:
    code: int
    reply: str


class TransportFailure(MailerError):
    """``from_server`` is False when we refused locally (no server said no)."""

    def __init__(self, code: int, reply: str, from_server: bool = True) -> None:
        # Code 0: no server reply at all (refused connection, timeout): no number to show.
        super().__init__(f"{code} {reply}".strip() if code else reply)
        self.code = code
        self.reply = reply
        self.from_server = from_server


class TemporaryFailure(TransportFailure):
    """Try again later. ``uncertain``: the message may have been delivered anyway
    (the connection broke after its data was sent), so a retry may duplicate it."""

    def __init__(self, code: int, reply: str, uncertain: bool = False) -> None:
        super().__init__(code, reply)
        self.uncertain = uncertain


class PermanentFailure(TransportFailure):
    """This recipient will not get this message."""


class SessionFailure(TransportFailure):
    """The relay would not take mail from us at all; ``temporary`` when a retry may help."""

    def __init__(self, code: int, reply: str, temporary: bool = False) -> None:
        super().__init__(code, reply)
        self.temporary = temporary


class Transport(Protocol):
    def send(
        self, envelope_from: str, recipient: str, data: bytes, smtputf8: bool = False
    ) -> SendResult:
        """Deliver one message to one recipient, or raise a TransportFailure."""
        ...

    def close(self) -> None: ...
