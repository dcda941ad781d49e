"""Campaign, delivery-ledger and bounce-event tables.

The ``deliveries`` ledger is the only truth about who was sent what: one row
per (campaign, subscriber), written when the campaign starts, updated with
every attempt's outcome and SMTP reply.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from subscribers.models import Base, JSONType, UTCDateTime, _in, utcnow


class CampaignStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    MISSED = "missed"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    SKIPPED = "skipped"


PENDING = (DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED, DeliveryStatus.SENDING)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint(f"status IN ({_in(CampaignStatus)})", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="RESTRICT"), index=True)
    slug: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(250))
    default_language: Mapped[str] = mapped_column(String(35))
    # {language: {"name": file name, "text": the file}}: the issue as it was
    # when scheduled, so what is sent does not depend on files changing later.
    sources: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default=CampaignStatus.SCHEDULED)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Sent with --force past `mailer doctor`: the errors it overrode ("" when
    # there were none then). NULL: not forced, so a start re-checks and refuses.
    forced_errors: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the last --force was given, and by whom ("cli" or a staff email).
    forced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    forced_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # Why the campaign paused itself (a refusing relay, the circuit breaker);
    # cleared by resume. None when staff paused it.
    pause_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ArchivedIssue(Base):
    """A campaign's issue as the web archive shows it, rendered and sanitized at start.

    One row per language variant; the archive serves this, never a fresh
    render, so later edits to templates or settings do not change history.
    """

    __tablename__ = "archived_issues"
    __table_args__ = (UniqueConstraint("campaign_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(35))
    issue_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # front matter's
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subscriber_id"),
        CheckConstraint(f"status IN ({_in(DeliveryStatus)})", name="status"),
        Index("ix_deliveries_claim", "campaign_id", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    # SET NULL: erasing a subscriber (GDPR) keeps the ledger's counts.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    language: Mapped[str] = mapped_column(String(35))
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # True once a worker died holding this row: it may have gone out already.
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False)
    smtp_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    smtp_reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    # How a failed or deferred attempt was graded (mailer.delivery.outcomes.Failure):
    # hard, soft, block, fail or error. Blocks are counted apart and never suppress.
    failure: Mapped[str | None] = mapped_column(String(10), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BounceKind(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"
    BLOCK = "block"  # 5.7.x policy/spam/DMARC: recorded, never suppresses
    FAIL = "fail"  # another permanent failure (too big, loop): recorded only
    DELAYED = "delayed"  # a DSN saying delivery is still being retried: recorded only


class BounceEvent(Base):
    """A bounce or complaint learned about an address, whatever its source."""

    __tablename__ = "bounce_events"
    __table_args__ = (CheckConstraint(f"kind IN ({_in(BounceKind)})", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), nullable=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20))  # smtp | dsn | arf …
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # RFC 3463, "5.1.1"
    diagnostic: Mapped[str | None] = mapped_column(Text, nullable=True)  # the remote's words
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchedulerJob(Base):
    """APScheduler's own job table (its SQLAlchemyJobStore), made by our migrations."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(index=True, nullable=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class ProcessedMessage(Base):
    """A bounce-mailbox message already handled: processing twice counts nothing twice."""

    __tablename__ = "processed_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the Message-ID (or of the whole message when it has none).
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # A finding's kind, or unverified | poison | unsubscribe (see mailer.bounces.process).
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    message_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    # What was claimed and why nothing was done, the parser's error, or who left which list.
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
