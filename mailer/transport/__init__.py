"""Getting bytes to a mail server: the Transport protocol and its implementations."""

from mailer.transport.base import (
    PermanentFailure,
    SendResult,
    SessionFailure,
    TemporaryFailure,
    Transport,
    TransportFailure,
)

__all__ = [
    "PermanentFailure",
    "SendResult",
    "SessionFailure",
    "TemporaryFailure",
    "Transport",
    "TransportFailure",
]
