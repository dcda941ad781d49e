"""Reading a bounce mailbox: classify each message once and apply the policy."""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mailer.bounces.classify import Kind, classify
from mailer.bounces.policy import Decision, Policy, apply_finding
from mailer.bounces.verp import KeyLookup
from mailer.campaigns.models import ProcessedMessage
from mailer.db import session_scope
from mailer.settings import Settings
from subscribers.models import Subscriber


@dataclass
class ProcessReport:
    messages: int = 0
    already_processed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    suppressed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "already_processed": self.already_processed,
            "hard": self.kinds[Kind.HARD],
            "soft": self.kinds[Kind.SOFT],
            "complaints": self.kinds[Kind.COMPLAINT],
            "auto_replies": self.kinds[Kind.AUTO_REPLY],
            "unrecognized": self.kinds[Kind.UNKNOWN],
            "suppressed": self.suppressed,
        }


def policy_of(settings: Settings) -> Policy:
    return Policy(settings.bounce_soft_threshold, timedelta(days=settings.bounce_soft_reset_days))


def message_key(raw: bytes) -> tuple[str, str]:
    """(SHA-256 key, Message-ID): by Message-ID when there is one, else by content."""
    msg = email.message_from_bytes(raw[:65536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])
    mid = str(msg.get("Message-ID", "")).strip()
    basis = mid.encode() if mid else raw
    return hashlib.sha256(basis).hexdigest(), mid


def _key_lookup(session: Session) -> KeyLookup:
    def key_of(subscriber_id: int) -> str | None:
        found = session.execute(
            select(Subscriber.link_key).where(Subscriber.id == subscriber_id)
        ).first()
        if found is None:
            raise LookupError(subscriber_id)
        return found[0]

    return key_of


def process_one(
    session: Session, raw: bytes, settings: Settings, report: ProcessReport
) -> list[Decision]:
    key, mid = message_key(raw)
    report.messages += 1
    if session.scalar(select(ProcessedMessage.id).where(ProcessedMessage.key == key)):
        report.already_processed += 1
        return []
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    finding = classify(msg, settings.bounce_address, settings.secret_key, _key_lookup(session))
    report.kinds[finding.kind] += 1
    decisions = apply_finding(
        session, finding, f"message {mid or '(no Message-ID)'}", policy_of(settings)
    )
    report.suppressed += [d.email for d in decisions if d.suppressed]
    session.add(ProcessedMessage(key=key, outcome=finding.kind.value))
    session.flush()
    return decisions


def process_messages(db: Engine, settings: Settings, messages: Iterable[bytes]) -> ProcessReport:
    """Each message in its own transaction: a crash mid-mailbox loses nothing done."""
    report = ProcessReport()
    for raw in messages:
        with session_scope(db) as s:
            process_one(s, raw, settings, report)
    return report
