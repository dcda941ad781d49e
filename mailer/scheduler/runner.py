"""`mailer run`: the scheduler and the delivery of every campaign that is due.

On start it requeues rows left ``sending`` by a process that died (in doubt),
marks campaigns whose start was missed by more than the grace period, starts
those still within it, and resumes campaigns that were sending. APScheduler
fires each campaign's start at its time; a sweep every second does the same
checks, so a campaign scheduled by another process is picked up at once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine, select

from mailer.bounces.process import process_messages
from mailer.bounces.sources import open_source
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.campaigns.service import due_campaigns, mark_missed, start_campaign
from mailer.db import session_scope
from mailer.delivery.engine import DeliveryEngine, smtp_engine
from mailer.delivery.processes import run_everywhere
from mailer.delivery.store import DeliveryStore
from mailer.outbox import Outbox, OutboxWorker, smtp_sender
from mailer.scheduler import jobs
from mailer.settings import Settings
from subscribers.models import utcnow

log = logging.getLogger(__name__)
JOB_FUNC = "mailer.scheduler.jobs:start_campaign"


def _grace(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.send_grace_minutes)


def _scheduler(db: Engine, settings: Settings) -> BackgroundScheduler:
    grace = max(int(_grace(settings).total_seconds()), 1)
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db), "memory": MemoryJobStore()},
        job_defaults={"misfire_grace_time": grace, "coalesce": True},
        timezone=UTC,
    )


def schedule_campaign(db: Engine, settings: Settings, campaign_id: int, when: datetime) -> None:
    """Store the campaign's start job in the database's job store, for `mailer run`.

    Written straight into the store: a scheduler started only to add a job
    could itself fire (and then lose) a job that is already due.
    """
    scheduler = _scheduler(db, settings)
    store = SQLAlchemyJobStore(engine=db)
    store.start(scheduler, "default")
    job = Job(
        scheduler,
        id=f"campaign-{campaign_id}",
        func=JOB_FUNC,
        trigger=DateTrigger(run_date=when, timezone=UTC),
        executor="default",
        args=(campaign_id,),
        kwargs={},
        name=f"start campaign {campaign_id}",
        misfire_grace_time=max(int(_grace(settings).total_seconds()), 1),
        coalesce=True,
        max_instances=1,
        next_run_time=when,
    )
    try:
        store.add_job(job)
    except ConflictingIdError:
        store.update_job(job)


class Runner:
    def __init__(
        self,
        db: Engine,
        settings: Settings,
        engine: DeliveryEngine | None = None,
        sweep_seconds: float = 1.0,
        preflight: bool = True,  # `mailer doctor` before each start (False: tests' fakes)
        dispatch: Callable[[int], object] | None = None,
        processes: int | None = None,
    ) -> None:
        self.db = db
        self.preflight = preflight
        self.settings = settings
        self.engine = engine or smtp_engine(db, settings)
        # Helper processes run the SMTP engine of the settings: a custom engine
        # (the tests' fakes) runs alone unless the caller says otherwise.
        self.processes = processes or (settings.processes if engine is None else 1)
        self.sweep_seconds = sweep_seconds
        self.dispatch = dispatch  # with a broker: enqueue chunks for workers instead
        self.stopping = threading.Event()
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()
        self.scheduler = _scheduler(db, settings)
        # Confirmation emails the web app queued (this process's or another's).
        self.confirmations = OutboxWorker(Outbox(db, settings, smtp_sender(settings)))

    def start(self) -> None:
        requeued = DeliveryStore(self.db).recover(None, utcnow())
        if requeued:
            log.warning(
                "%d deliveries were in flight when mailer last stopped; "
                "they are resent and counted as in doubt",
                requeued,
            )
        jobs.set_runner(self)
        self.sweep()
        self.scheduler.add_job(
            "mailer.scheduler.jobs:sweep",
            "interval",
            seconds=self.sweep_seconds,
            id="sweep",
            jobstore="memory",
            replace_existing=True,
            misfire_grace_time=None,
        )
        if self.settings.bounce_mailbox:
            self.scheduler.add_job(
                self.read_bounces,
                "interval",
                seconds=self.settings.bounce_poll_seconds,
                id="bounces",
                jobstore="memory",
                replace_existing=True,
                max_instances=1,
                next_run_time=utcnow(),
            )
        self.scheduler.start()
        self.confirmations.start()

    def read_bounces(self) -> None:
        """Poll the configured bounce mailbox (Maildir, mbox or IMAP)."""
        try:
            with open_source(
                self.settings.bounce_mailbox, self.settings.bounce_imap_password
            ) as messages:
                report = process_messages(self.db, self.settings, messages)
            if report.messages - report.already_processed:
                log.info("bounces: %s", report.as_dict())
        except Exception:
            log.exception("reading the bounce mailbox failed; trying again next time")

    def sweep(self) -> None:
        if self.stopping.is_set():
            return
        grace = _grace(self.settings)
        with session_scope(self.db) as s:
            for cid in mark_missed(s, grace):
                log.warning(
                    "campaign %d missed its start by more than %s; "
                    "`mailer campaigns resume %d` sends it",
                    cid,
                    grace,
                    cid,
                )
            due = due_campaigns(s, grace)
            sending = list(
                s.scalars(select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING))
            )
        for cid in due:
            self.start_campaign(cid)
        for cid in sending:
            self.deliver(cid)

    def start_campaign(self, campaign_id: int) -> None:
        if not self._doctor_allows(campaign_id):
            return
        with self._lock, session_scope(self.db) as s:
            c = s.get(Campaign, campaign_id, with_for_update=True)
            if c is None or c.status != CampaignStatus.SCHEDULED:
                return
            if c.scheduled_at < utcnow() - _grace(self.settings):
                c.status = CampaignStatus.MISSED
                return
            count = start_campaign(s, c)
            log.info("campaign %d started: %d recipients", campaign_id, count)
        self.deliver(campaign_id)

    def _doctor_allows(self, campaign_id: int) -> bool:
        """A campaign not sent with --force starts only if `mailer doctor` finds no error;
        otherwise it is paused with the reason in the log (checked outside the lock:
        DNS look-ups can take seconds)."""
        from mailer.doctor.run import gate  # dnspython: loaded only when it is needed

        if not self.preflight:
            return True
        with session_scope(self.db) as s:
            c = s.get(Campaign, campaign_id)
            if c is None or c.forced_errors is not None:
                return True
        _report, refusal = gate(self.settings, force=False)
        if refusal is None:
            return True
        with session_scope(self.db) as s:
            c = s.get(Campaign, campaign_id)
            if c is not None and c.status == CampaignStatus.SCHEDULED:
                c.status = CampaignStatus.PAUSED
        log.error("campaign %d not started and paused: %s", campaign_id, refusal)
        return False

    def deliver(self, campaign_id: int) -> None:
        if self.dispatch is not None:
            self.dispatch(campaign_id)
            return
        with self._lock:
            if self.stopping.is_set():
                return
            thread = self._threads.get(campaign_id)
            if thread is not None and thread.is_alive():
                return
            thread = threading.Thread(
                target=self._deliver,
                args=(campaign_id,),
                name=f"campaign-{campaign_id}",
                daemon=True,
            )
            self._threads[campaign_id] = thread
            thread.start()

    def _deliver(self, campaign_id: int) -> None:
        try:
            settings = dataclasses.replace(self.settings, processes=self.processes)
            status = run_everywhere(self.engine, settings, campaign_id, self.stopping)
            log.info("campaign %d: %s", campaign_id, status)
        except Exception:
            log.exception(
                "delivery of campaign %d failed; it resumes at the next sweep", campaign_id
            )

    def stop(self) -> None:
        """Finish the messages in flight, record them, and stop."""
        self.stopping.set()
        self.scheduler.shutdown(wait=False)
        self.confirmations.stop()
        for thread in list(self._threads.values()):
            thread.join()
        jobs.set_runner(None)
