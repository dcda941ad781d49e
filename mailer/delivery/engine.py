"""The delivery engine: worker threads that claim, build, send and record.

Each worker holds its own SMTP connection (reopened after
``messages_per_connection`` messages or when the server drops it), takes a
small batch of due ledger rows, and for each: skips it if the subscriber left
or was suppressed since the start, waits for the rate limiter, builds the
message (same Message-ID on every attempt), sends it and notes the outcome.
Outcomes are written once per batch, so a crash loses at most one batch of
knowledge — those rows come back "in doubt" and are sent again with the same
Message-ID. A stop request lets the message in flight finish, records the
batch, and hands unsent rows back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import Engine

from mailer.bounces.verp import verp_address
from mailer.campaigns.models import Campaign, CampaignStatus, DeliveryStatus
from mailer.campaigns.service import campaign_issues, finish_if_done
from mailer.compose import Composition, compose
from mailer.db import session_scope
from mailer.delivery.ratelimit import TokenBucket
from mailer.delivery.store import Claimed, DeliveryStore, Outcome, owner_id
from mailer.message import MessageFactory, Recipient
from mailer.settings import Settings
from mailer.transport import PermanentFailure, TemporaryFailure, Transport
from mailer.transport.smtp import SmtpConnection, smtp_config
from subscribers.models import MailingList, SubscriptionStatus, utcnow

log = logging.getLogger(__name__)

BATCH = 32
LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 60.0
    maximum: float = 3600.0
    deadline: timedelta = timedelta(hours=72)

    def next_attempt(self, attempts: int, first_try: datetime, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failures, or None once past the deadline."""
        delay = min(self.base * 2 ** max(attempts - 1, 0), self.maximum)
        delay *= random.uniform(0.9, 1.1)  # spread retries out
        when = now + timedelta(seconds=delay)
        return when if when <= first_try + self.deadline else None

    @classmethod
    def from_settings(cls, s: Settings) -> RetryPolicy:
        return cls(
            s.retry_base_seconds, s.retry_max_seconds, timedelta(hours=s.retry_deadline_hours)
        )


class _Either:
    """Stopped when the caller says so or when a fellow worker failed."""

    def __init__(self, stop: threading.Event, halt: threading.Event) -> None:
        self.stop = stop
        self.halt = halt

    def is_set(self) -> bool:
        return self.stop.is_set() or self.halt.is_set()

    def wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.is_set() and (left := end - time.monotonic()) > 0:
            self.stop.wait(min(left, 0.05))


class DeliveryEngine:
    def __init__(
        self,
        db: Engine,
        settings: Settings,
        transport_factory: Callable[[], Transport],
        *,
        envelope_from: str,
        workers: int | None = None,
        batch: int = BATCH,
        limiter: TokenBucket | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.store = DeliveryStore(db)
        self.transport_factory = transport_factory
        self.envelope_from = envelope_from
        # VERP: each message's return path names its campaign and subscriber.
        self.verp = (
            (settings.bounce_address, settings.secret_key)
            if settings.bounce_address and settings.secret_key
            else None
        )
        self.workers = workers or settings.workers
        self.batch = batch
        self.limiter = limiter or TokenBucket(settings.rate_limit)
        self.retry = RetryPolicy.from_settings(settings)
        self.owner = owner_id()

    def _composition(self, campaign_id: int) -> Composition:
        with session_scope(self.db) as s:
            c = s.get(Campaign, campaign_id)
            assert c is not None
            ml = s.get(MailingList, c.list_id)
            assert ml is not None
            s.expunge_all()
            return compose(campaign_issues(c), self.settings, ml, str(c.id))

    def run(
        self, campaign_id: int, stop: threading.Event, on_batch: Callable[[], None] | None = None
    ) -> str:
        """Deliver until the campaign is finished, paused, cancelled, or ``stop`` is set.

        Returns the campaign's status when it returns.
        """
        self.store.recover(campaign_id, utcnow())
        composition = self._composition(campaign_id)
        factories: dict[str, MessageFactory] = {}
        lock = threading.Lock()

        def factory(language: str) -> MessageFactory:
            with lock:
                if language not in factories:
                    factories[language] = composition.factory(language)
                return factories[language]

        # A worker's error stops this run's other workers, not the caller's
        # other runs (one engine serves every campaign of `mailer run`).
        errors: list[Exception] = []
        halt = threading.Event()
        threads = [
            threading.Thread(
                target=self._worker,
                args=(campaign_id, _Either(stop, halt), factory, on_batch, errors),
                name=f"deliver-{campaign_id}-{i}",
                daemon=True,
            )
            for i in range(self.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        with session_scope(self.db) as s:
            finish_if_done(s, campaign_id)
        return self.store.campaign_status(campaign_id) or "unknown"

    def _worker(
        self,
        campaign_id: int,
        stop: _Either,
        factory: Callable[[str], MessageFactory],
        on_batch: Callable[[], None] | None,
        errors: list[Exception],
    ) -> None:
        transport: Transport | None = None
        try:
            while not stop.is_set():
                batch = self.store.claim(campaign_id, self.owner, self.batch, utcnow(), LEASE)
                if not batch:
                    if self.store.campaign_status(campaign_id) != CampaignStatus.SENDING:
                        return  # paused, cancelled or finished
                    pending, earliest = self.store.next_due(campaign_id)
                    if pending == 0:
                        return
                    # Rows held by other workers, or retries due later: wait a little.
                    wait = 0.2 if earliest is None else (earliest - utcnow()).total_seconds()
                    stop.wait(min(max(wait, 0.05), 1.0))
                    continue
                outcomes: list[Outcome] = []
                done: set[int] = set()
                try:
                    for row in batch:
                        if stop.is_set():
                            break
                        if transport is None:
                            transport = self.transport_factory()
                        outcomes.append(self._deliver(campaign_id, row, factory, transport))
                        done.add(row.id)
                finally:
                    now = utcnow()
                    self.store.record(campaign_id, outcomes, now)
                    self.store.release([r.id for r in batch if r.id not in done], now)
                if on_batch is not None:
                    on_batch()
        except Exception as exc:
            log.exception("delivery worker for campaign %s stopped by an error", campaign_id)
            errors.append(exc)
            stop.halt.set()
        finally:
            if transport is not None:
                transport.close()

    def _return_path(self, campaign_id: int, subscriber_id: int, key: str | None) -> str:
        if self.verp is None:
            return self.envelope_from
        return verp_address(self.verp[0], self.verp[1], campaign_id, subscriber_id, key)

    def _deliver(
        self,
        campaign_id: int,
        row: Claimed,
        factory: Callable[[str], MessageFactory],
        transport: Transport,
    ) -> Outcome:
        now = utcnow()
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
        message = factory(row.language).build(
            Recipient(row.subscriber_id, row.email, row.name, row.attributes, row.link_key)
        )
        self.limiter.acquire()
        try:
            result = transport.send(
                self._return_path(campaign_id, row.subscriber_id, row.link_key),
                message.envelope_to,
                message.data,
                message.smtputf8,
            )
        except TemporaryFailure as exc:
            retry_at = self.retry.next_attempt(row.attempts, row.created_at, utcnow())
            if retry_at is None:
                return Outcome(
                    row.id,
                    DeliveryStatus.FAILED,
                    exc.code,
                    f"gave up after {row.attempts} attempts: {exc.reply}",
                    message.message_id,
                    in_doubt=exc.uncertain,
                )
            return Outcome(
                row.id,
                DeliveryStatus.DEFERRED,
                exc.code,
                exc.reply,
                message.message_id,
                next_attempt_at=retry_at,
                in_doubt=exc.uncertain,
            )
        except PermanentFailure as exc:
            refused = (row.email, exc.code, exc.reply) if exc.from_server else None
            return Outcome(
                row.id,
                DeliveryStatus.FAILED,
                exc.code,
                exc.reply,
                message.message_id,
                refused=refused,
            )
        return Outcome(
            row.id, DeliveryStatus.SENT, result.code, result.reply, message.message_id, sent_at=now
        )


def envelope_sender(settings: Settings) -> str:
    """MAIL FROM: the bounce address when set, else the From address."""
    return settings.bounce_address or parseaddr(settings.from_address)[1]


def smtp_engine(db: Engine, settings: Settings, workers: int | None = None) -> DeliveryEngine:
    """The engine as configured: SMTP per the settings, one connection per worker."""
    config = smtp_config(settings)
    return DeliveryEngine(
        db,
        settings,
        lambda: SmtpConnection(config),
        envelope_from=envelope_sender(settings),
        workers=workers,
    )
