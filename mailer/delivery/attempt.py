"""One message: built for its row, sent, and what happened as an Outcome.

The engine (engine.py) decides which rows and when; here a row becomes a
message, or the outcome that says why there is none (erased, unsubscribed,
suppressed, a build error), and a message becomes an outcome: sent, or a
failure graded by outcomes.py. A session failure is not an outcome: it
propagates, for the engine to hand the row back and pause or retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mailer.campaigns.models import DeliveryStatus
from mailer.delivery.claimed import Claimed
from mailer.delivery.outcomes import Outcome, RetryPolicy, error_outcome, failed_attempt
from mailer.delivery.run import Link
from mailer.message import MessageFactory, OutgoingMessage, Recipient
from mailer.transport import PermanentFailure, SessionFailure, TemporaryFailure, Transport
from subscribers.models import SubscriptionStatus, utcnow

log = logging.getLogger(__name__)


def skipped(row: Claimed) -> Outcome | None:
    """Why ``row`` gets no message (its subscriber left, was erased or suppressed), if so."""
    if row.subscriber_id is None or row.email is None:
        return Outcome(row.id, DeliveryStatus.SKIPPED, reply="subscriber erased")
    if row.subscription != SubscriptionStatus.CONFIRMED:
        return Outcome(
            row.id,
            DeliveryStatus.SKIPPED,
            reply=f"subscription is {row.subscription or 'gone'}",
        )
    if row.suppressed:
        return Outcome(row.id, DeliveryStatus.SKIPPED, reply="address is suppressed")
    return None


def build(factory: Callable[[str], MessageFactory], row: Claimed) -> OutgoingMessage | Outcome:
    """The message for a row ``skipped`` let through; a build error is its outcome."""
    assert row.subscriber_id is not None and row.email is not None
    try:
        return factory(row.language).build(
            Recipient(row.subscriber_id, row.email, row.name, row.attributes, row.link_key)
        )
    except Exception as exc:  # bad data or a bug: this recipient, not the run
        log.exception("building the message for delivery %d failed", row.id)
        return error_outcome(row.id, exc)


def send_one(
    row: Claimed,
    message: OutgoingMessage,
    link: Link,
    return_path: str,
    ahead: tuple[str, str] | None,
    retry: RetryPolicy,
    meanwhile: Callable[[], None] | None = None,
) -> Outcome:
    """Send ``message``; ``ahead``: the next message's return path and recipient, whose
    envelope an SMTP transport pipelines with this one's data; ``meanwhile``: work
    an SMTP transport does while the relay takes the data (see SmtpConnection.send)."""
    assert row.email is not None
    try:
        transport = link.get()
        if ahead is not None:
            _announce(transport, row.id, *ahead)
        if message.wire is not None and getattr(transport, "takes_wire", False):
            result = transport.send(  # type: ignore[call-arg]
                return_path,
                message.envelope_to,
                message.data,
                message.smtputf8,
                wire=message.wire,
                meanwhile=meanwhile,
            )
        else:
            result = transport.send(
                return_path, message.envelope_to, message.data, message.smtputf8
            )
    except (TemporaryFailure, PermanentFailure) as exc:
        return failed_attempt(
            row.id,
            row.email,
            row.attempts + 1,
            row.created_at,
            exc,
            message.message_id,
            retry,
            utcnow(),
        )
    except SessionFailure:
        raise
    except Exception as exc:  # a bug in sending one message: its session is suspect
        log.exception("sending delivery %d failed", row.id)
        link.close()
        return error_outcome(row.id, exc, message.message_id)
    return Outcome(
        row.id,
        DeliveryStatus.SENT,
        result.code,
        result.reply,
        message.message_id,
        sent_at=utcnow(),
    )


def _announce(transport: Transport, row_id: int, return_path: str, recipient: str) -> None:
    """Tell an SMTP transport the next envelope, to pipeline it with this message's data.

    The envelope comes from the ledger row, before that message is built
    (it is built while this one's reply is awaited): the transport derives
    SMTPUTF8 from the addresses, as the message's own send does.
    """
    announce = getattr(transport, "announce", None)
    if announce is None:
        return
    try:
        announce(return_path, recipient)
    except Exception:  # only a saving: that message's own send will say what is wrong
        log.debug("announcing the message after delivery %d failed", row_id, exc_info=True)
