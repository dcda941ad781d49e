"""The delivery engine: worker threads that claim, build, send and record.

Each worker holds its own SMTP connection (reopened after
``messages_per_connection`` messages or when the server drops it) and
repeats one unit, ``send_batch``: claim a small batch of due ledger rows,
send each (skip it if the subscriber left or was suppressed since the start,
build the message with its fixed Message-ID, wait for the rate limiter),
and record each outcome before the next message goes out (see store.py).
One message runs ahead: its envelope, taken from its row, goes in the same
write as this message's data, and it is built while the relay takes that
data, so neither side waits for the other.

Failures go to their owner (../shared/DESIGN.md): a recipient's reply is
graded (outcomes.py); a session failure — the relay refusing our connection,
TLS, login or sender — touches no recipient and pauses the campaign with the
reason (after a few tries when it may pass); the circuit breaker pauses a
campaign whose recent attempts bounce or are blocked too often; an exception
while building or sending one message fails that recipient and the run goes
on. A stop request lets the message in flight finish and hands the rest back.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import parseaddr

from sqlalchemy import Engine

from mailer.bounces.process import policy_of
from mailer.bounces.verp import verp_address
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.campaigns.service import campaign_issues, finish_if_done
from mailer.compose import Composition, compose
from mailer.db import session_scope
from mailer.delivery.attempt import build, send_one, skipped
from mailer.delivery.breaker import Breaker
from mailer.delivery.claimed import Claimed
from mailer.delivery.folded import Recorder, recorder
from mailer.delivery.outcomes import Outcome, RetryPolicy
from mailer.delivery.owners import owner_id
from mailer.delivery.ratelimit import TokenBucket
from mailer.delivery.run import Link, Run
from mailer.delivery.store import DeliveryStore
from mailer.message import MessageFactory, OutgoingMessage
from mailer.settings import Settings
from mailer.transport import SessionFailure, Transport
from mailer.transport.smtp import SmtpConnection, smtp_config
from subscribers.models import MailingList, utcnow

log = logging.getLogger(__name__)

BATCH = 128  # claims take the write lock: fewer of them is what lets processes scale
LEASE = timedelta(minutes=10)
RECOVER_SECONDS = 1.0  # how often idle workers look for rows of dead workers
ANNOUNCE_MAX_WAIT = 30.0  # seconds a worker may wait for its turn with an envelope open
SESSION_TRIES = 5  # a connection refused this many times in a row pauses the campaign

__all__ = ["BATCH", "DeliveryEngine", "RetryPolicy", "envelope_sender", "smtp_engine"]


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
        self.store = DeliveryStore(db, policy_of(settings))
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
        self.session_retry_seconds = 1.0  # doubles per try, SESSION_TRIES tries
        self.owner = owner_id()
        self._recovered_at = time.monotonic()

    def _composition(self, campaign_id: int) -> Composition:
        with session_scope(self.db) as s:
            c = s.get(Campaign, campaign_id)
            assert c is not None
            ml = s.get(MailingList, c.list_id)
            assert ml is not None
            s.expunge_all()
            return compose(campaign_issues(c), self.settings, ml, str(c.id))

    def run(self, campaign_id: int, stop: threading.Event) -> str:
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

        s = self.settings
        run = Run(campaign_id, stop, Breaker(s.breaker_share, s.breaker_window), factory)
        # A worker's own error (the database gone, a bug outside one message)
        # stops this run's other workers, not the caller's other runs.
        errors: list[Exception] = []
        threads = [
            threading.Thread(
                target=self._worker,
                args=(run, errors),
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
        with session_scope(self.db) as session:
            finish_if_done(session, campaign_id)
        return self.store.campaign_status(campaign_id) or "unknown"

    def _recover_now_and_then(self, campaign_id: int) -> None:
        now = time.monotonic()
        if now - self._recovered_at < RECOVER_SECONDS:
            return
        self._recovered_at = now
        requeued = self.store.recover(campaign_id, utcnow())
        if requeued:
            log.warning("campaign %d: %d messages in doubt requeued", campaign_id, requeued)

    def pause(self, run: Run, reason: str) -> None:
        if self.store.pause(run.campaign_id, reason):
            log.warning("campaign %d paused: %s", run.campaign_id, reason)
        run.halt.set()

    def _worker(self, run: Run, errors: list[Exception]) -> None:
        link = Link(self.transport_factory)
        refused = 0  # session failures in a row that may pass
        try:
            while not run.stopped():
                batch = self.store.claim(run.campaign_id, self.owner, self.batch, utcnow(), LEASE)
                if not batch:
                    if self.store.campaign_status(run.campaign_id) != CampaignStatus.SENDING:
                        return  # paused, cancelled or finished
                    pending, earliest = self.store.next_due(run.campaign_id)
                    if pending == 0:
                        return
                    # Rows held by other workers, or retries due later: wait a little.
                    # A worker process that died (another helper, kill -9) leaves
                    # rows under its lease: take them back rather than wait it out.
                    self._recover_now_and_then(run.campaign_id)
                    wait = 0.2 if earliest is None else (earliest - utcnow()).total_seconds()
                    run.wait(min(max(wait, 0.05), 1.0))
                    continue
                failure = self.send_batch(run, batch, link)
                if failure is None:
                    refused = 0
                    continue
                link.close()
                refused += 1
                if not failure.temporary or refused >= SESSION_TRIES:
                    self.pause(run, failure.reply)
                    return
                log.warning("campaign %d: %s; trying again", run.campaign_id, failure.reply)
                run.wait(self.session_retry_seconds * 2 ** (refused - 1))
        except Exception as exc:
            log.exception("delivery worker for campaign %s stopped by an error", run.campaign_id)
            errors.append(exc)
            run.halt.set()
        finally:
            link.close()

    def send_batch(self, run: Run, batch: list[Claimed], link: Link) -> SessionFailure | None:
        """Send a claimed batch, recording each outcome before the next message goes out.

        Returns the session failure that ended it early, if any. Rows not
        attempted (a stop, a pause, a session failure) are handed back.
        """
        with recorder(self.store) as rec:  # on PostgreSQL, one round trip per message
            return self._send_all(run, batch, link, rec)

    def _send_all(
        self, run: Run, batch: list[Claimed], link: Link, rec: Recorder
    ) -> SessionFailure | None:
        pending: list[Outcome] = []  # outcomes not yet committed
        done: set[int] = set()
        failure: SessionFailure | None = None
        # One message ahead: its envelope (from its row) rides with this
        # message's data (announce), and it is built while the relay takes
        # this one (meanwhile) rather than while the relay waits for us.
        rows = self._sendable(run, batch, pending, done)
        nxt = next(rows, None)
        built: list[OutgoingMessage | Outcome] = []  # nxt's message, once built
        leased = time.monotonic()
        try:
            while nxt is not None and not run.stopped():
                row, nxt = nxt, None
                ready = built.pop() if built else build(run.factory, row)
                if isinstance(ready, Outcome):  # could not be built
                    self._settle(run, ready, pending, done)
                    nxt = next(rows, None)
                    continue
                self.limiter.acquire()
                if time.monotonic() - leased > LEASE.total_seconds() / 3:
                    # A low rate limit or a slow relay: the batch outlives its
                    # lease, and an idle worker would take (and send) the rows
                    # whose lease ran out. Keep the rest of the batch ours.
                    rest = [r.id for r in batch if r.id not in done]
                    self.store.renew(rest, self.owner, utcnow() + LEASE)
                    leased = time.monotonic()
                if not rec.advance(run.campaign_id, pending, row.id, utcnow()):
                    pending.clear()
                    break  # paused or cancelled meanwhile
                pending.clear()
                nxt = next(rows, None)
                meanwhile = None
                if nxt is not None:
                    meanwhile = functools.partial(self._build_ahead, run, nxt, built)
                try:
                    announce = nxt if self._may_announce() else None
                    outcome = self._send(run.campaign_id, row, ready, link, announce, meanwhile)
                except SessionFailure as exc:
                    self.store.unsend(row, utcnow())
                    failure = exc
                    break
                done.add(row.id)
                pending.append(outcome)
                self._note(run, outcome)
        finally:
            now = utcnow()
            rec.advance(run.campaign_id, pending, None, now)
            self.store.release([r.id for r in batch if r.id not in done], now)
        return failure

    def _build_ahead(self, run: Run, row: Claimed, built: list[OutgoingMessage | Outcome]) -> None:
        if not built and not run.stopped():
            built.append(build(run.factory, row))

    def _may_announce(self) -> bool:
        """Whether the next envelope may go early: not when a slow rate limit would keep
        it open at the relay, in DATA, for long (relays give up on a silent DATA after
        a few minutes, RFC 5321 4.5.3.2), which would leave that message in doubt."""
        rate = self.limiter.rate
        return rate <= 0 or self.workers / rate <= ANNOUNCE_MAX_WAIT

    def _sendable(
        self, run: Run, batch: list[Claimed], pending: list[Outcome], done: set[int]
    ) -> Iterator[Claimed]:
        """The batch's rows that get a message; the others become outcomes."""
        for row in batch:
            if run.stopped():
                return
            reason = skipped(row)
            if reason is not None:
                self._settle(run, reason, pending, done)
                continue
            yield row

    def _settle(self, run: Run, outcome: Outcome, pending: list[Outcome], done: set[int]) -> None:
        """A row that gets no message: its outcome goes with the next commit."""
        pending.append(outcome)
        done.add(outcome.id)
        self._note(run, outcome)

    def _note(self, run: Run, outcome: Outcome) -> None:
        reason = run.breaker.note(outcome)
        if reason is not None and not run.halt.is_set():
            self.pause(run, reason)

    def _return_path(self, campaign_id: int, subscriber_id: int, key: str | None) -> str:
        if self.verp is None:
            return self.envelope_from
        return verp_address(self.verp[0], self.verp[1], campaign_id, subscriber_id, key)

    def _send(
        self,
        campaign_id: int,
        row: Claimed,
        message: OutgoingMessage,
        link: Link,
        nxt: Claimed | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> Outcome:
        assert row.subscriber_id is not None
        return_path = self._return_path(campaign_id, row.subscriber_id, row.link_key)
        ahead = None
        if nxt is not None and nxt.subscriber_id is not None and nxt.email is not None:
            try:
                n_path = self._return_path(campaign_id, nxt.subscriber_id, nxt.link_key)
                ahead = (n_path, nxt.email)
            except Exception:  # only a saving: that row's own send will say what is wrong
                log.debug("no return path ahead for delivery %d", nxt.id, exc_info=True)
        return send_one(row, message, link, return_path, ahead, self.retry, meanwhile)


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
