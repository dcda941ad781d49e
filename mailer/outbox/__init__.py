"""The confirmation outbox: subscribe requests queued by the web, sent by a worker."""

from mailer.outbox.models import ConfirmationRequest
from mailer.outbox.queue import Backoff, Outbox, Sender, enqueue, smtp_sender
from mailer.outbox.worker import OutboxWorker

__all__ = [
    "Backoff",
    "ConfirmationRequest",
    "Outbox",
    "OutboxWorker",
    "Sender",
    "enqueue",
    "smtp_sender",
]
