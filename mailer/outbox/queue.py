"""Queueing subscribe requests and sending their confirmations, with retries.

The web answers a subscribe request by writing one row here and nothing
else, whatever the address's state, so neither its answer nor its timing
tells an observer who is subscribed or suppressed. The worker then applies
the request (subscribers.consent) and, for a double opt-in list, sends the
confirmation; when SMTP is down it tries again later with backoff, until
the link would have expired anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailer.compose import tokens_for
from mailer.confirmation import confirmation_message
from mailer.db import session_scope
from mailer.delivery.engine import envelope_sender
from mailer.message import OutgoingMessage
from mailer.outbox.models import ConfirmationRequest
from mailer.settings import Settings
from mailer.transport.smtp import SmtpConnection, smtp_config
from subscribers.addresses import parse_address
from subscribers.consent import Next, request_subscription
from subscribers.errors import SubscribersError
from subscribers.models import MailingList, Subscriber, utcnow
from subscribers.tokens import MAX_AGE, Purpose, Tokens

log = logging.getLogger(__name__)
Sender = Callable[[OutgoingMessage], None]


def smtp_sender(settings: Settings) -> Sender:
    """Send one message (a confirmation) over its own SMTP session."""

    def send(message: OutgoingMessage) -> None:
        conn = SmtpConnection(smtp_config(settings))
        try:
            conn.send(
                envelope_sender(settings), message.envelope_to, message.data, message.smtputf8
            )
        finally:
            conn.close()

    return send


@dataclass(frozen=True)
class Backoff:
    first: timedelta = timedelta(seconds=5)
    most: timedelta = timedelta(minutes=5)
    # A confirmation sent later than this would carry an expired link.
    give_up: timedelta = MAX_AGE[Purpose.CONFIRM]
    lease: timedelta = timedelta(minutes=2)  # a claimed row is left alone this long

    def delay(self, attempts: int) -> timedelta:
        later: timedelta = self.first * 2 ** max(attempts - 1, 0)
        return min(later, self.most)


def enqueue(
    session: Session,
    list_id: int,
    email: str,
    name: str,
    language: str,
    ip: str | None,
    source: str,
) -> None:
    """The whole of a subscribe request's work (fields already checked by the caller)."""
    session.add(
        ConfirmationRequest(
            list_id=list_id, email=email, name=name, language=language, ip=ip, source=source
        )
    )


class Outbox:
    def __init__(
        self,
        db: Engine,
        settings: Settings,
        send: Sender,
        backoff: Backoff | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.send = send
        self.backoff = backoff or Backoff()
        self.tokens = tokens or tokens_for(settings)

    def deliver_due(self, now: datetime | None = None, limit: int = 100) -> int:
        """Apply and send every due row; returns how many confirmations went out."""
        now = now or utcnow()
        with session_scope(self.db) as s:
            due = s.execute(
                select(ConfirmationRequest.id, ConfirmationRequest.next_attempt_at)
                .where(ConfirmationRequest.next_attempt_at <= now)
                .order_by(ConfirmationRequest.id)
                .limit(limit)
            ).all()
        sent = 0
        for row_id, at in due:
            if self._claim(row_id, at, now):
                sent += self._process(row_id, now)
        return sent

    def _claim(self, row_id: int, at: datetime, now: datetime) -> bool:
        """Take the row for a while; another worker (process) that got it first wins."""
        with session_scope(self.db) as s:
            done = s.execute(
                update(ConfirmationRequest)
                .where(ConfirmationRequest.id == row_id, ConfirmationRequest.next_attempt_at == at)
                .values(next_attempt_at=now + self.backoff.lease)
            )
            return bool(getattr(done, "rowcount", 0))

    def _process(self, row_id: int, now: datetime) -> int:
        try:
            message = self._apply(row_id)
        except IntegrityError:  # the same new address applied at once elsewhere: try again
            self._retry(row_id, now, "the address was being added by another request")
            return 0
        except Exception as exc:  # a bug with one request must not stop the others
            log.exception("subscribe request %d could not be applied", row_id)
            self._retry(row_id, now, f"{exc.__class__.__name__}: {exc}")
            return 0
        if message is None:
            return 0
        try:
            self.send(message)
        except Exception as exc:  # SMTP down or refusing: keep the row, try later
            log.warning("confirmation not sent yet (%s); trying again later", exc)
            self._retry(row_id, now, f"{exc.__class__.__name__}: {exc}")
            return 0
        with session_scope(self.db) as s:
            row = s.get(ConfirmationRequest, row_id)
            if row is not None:
                s.delete(row)
        return 1

    def _apply(self, row_id: int) -> OutgoingMessage | None:
        """Apply the request once; the confirmation to send, or None (row done)."""
        with session_scope(self.db) as s:
            row = s.get(ConfirmationRequest, row_id)
            if row is None:
                return None
            ml = s.get(MailingList, row.list_id)
            if row.subscriber_id is None and ml is not None:
                self._subscribe(s, row, ml)
            sub = s.get(Subscriber, row.subscriber_id) if row.subscriber_id else None
            if sub is None or ml is None:
                s.delete(row)
                return None
            token = self.tokens.make(Purpose.CONFIRM, sub.id, ml.id, sub.link_key)
            url = f"{self.settings.base_url.rstrip('/')}/confirm/{token}"
            return confirmation_message(
                self.settings, ml.title, sub.email, sub.name, sub.language or row.language, url
            )

    def _subscribe(self, s: Session, row: ConfirmationRequest, ml: MailingList) -> None:
        try:
            req = request_subscription(
                s,
                row.email,
                ml.slug,
                name=row.name,
                language=row.language,
                ip=row.ip,
                source=row.source,
            )
        except SubscribersError as exc:  # checked by the web already; log, drop the row
            log.warning("subscribe request %d dropped: %s", row.id, exc)
            return
        self._drop_repeats(s, row)
        if req.next is not Next.CONFIRM or req.subscriber_id is None:
            return  # done at once, or suppressed: nothing to send, nothing to keep
        pending = s.scalar(
            select(ConfirmationRequest.id).where(
                ConfirmationRequest.subscriber_id == req.subscriber_id,
                ConfirmationRequest.list_id == ml.id,
                ConfirmationRequest.id != row.id,
            )
        )
        if pending is None:  # several requests at once make one confirmation
            row.subscriber_id = req.subscriber_id
            row.language = req.language or row.language
        row.email, row.name = "", ""  # the subscriber row holds them now
        s.flush()

    def _drop_repeats(self, s: Session, row: ConfirmationRequest) -> None:
        """Requests for the same address and list still waiting are this one again:
        a burst of them makes one confirmation, not one each."""
        key = parse_address(row.email).key
        waiting = s.scalars(
            select(ConfirmationRequest).where(
                ConfirmationRequest.list_id == row.list_id,
                ConfirmationRequest.subscriber_id.is_(None),
                ConfirmationRequest.id != row.id,
            )
        )
        for other in waiting:
            if _same_address(other.email, key):
                s.delete(other)

    def _retry(self, row_id: int, now: datetime, error: str) -> None:
        with session_scope(self.db) as s:
            row = s.get(ConfirmationRequest, row_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error[:1000]
            if now - row.created_at > self.backoff.give_up:
                log.error("confirmation %d given up after %d attempts", row.id, row.attempts)
                s.delete(row)
                return
            row.next_attempt_at = now + self.backoff.delay(row.attempts)


def _same_address(given: str, key: str) -> bool:
    try:
        return parse_address(given).key == key
    except SubscribersError:
        return False
