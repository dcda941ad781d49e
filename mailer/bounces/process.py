"""Reading a bounce mailbox: classify each message once and apply the policy.

Every message ends in exactly one ``processed_messages`` row whose outcome
is the finding's kind (acted on), ``unverified`` (a report or unsubscribe
request that proves nothing: it changed nothing), ``poison`` (a parser step
failed on it: its error is kept, the message is set aside, the run goes on)
or ``unsubscribe`` (a signed mailto unsubscribe was honoured).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mailer.bounces import mailto
from mailer.bounces.classify import REPORTS, Finding, Kind, classify
from mailer.bounces.dsn import clean
from mailer.bounces.policy import Policy, apply_finding
from mailer.bounces.sources import Incoming
from mailer.bounces.verify import envelope_addresses
from mailer.bounces.verp import KeyLookup
from mailer.campaigns.models import ProcessedMessage
from mailer.db import session_scope
from mailer.settings import Settings
from subscribers.consent import unsubscribe_from
from subscribers.models import MailingList, Subscriber

log = logging.getLogger(__name__)
UNVERIFIED, POISON, UNSUBSCRIBE = "unverified", "poison", "unsubscribe"


@dataclass
class ProcessReport:
    messages: int = 0
    already_processed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    suppressed: list[str] = field(default_factory=list)
    unsubscribed: list[str] = field(default_factory=list)
    poison: list[str] = field(default_factory=list)  # "Message-ID: error"

    def as_dict(self) -> dict[str, Any]:
        k = self.kinds
        return {
            "messages": self.messages,
            "already_processed": self.already_processed,
            "hard": k[Kind.HARD],
            "soft": k[Kind.SOFT],
            "blocks": k[Kind.BLOCK],
            "other_failures": k[Kind.FAIL],
            "delayed": k[Kind.DELAYED],
            "complaints": k[Kind.COMPLAINT],
            "auto_replies": k[Kind.AUTO_REPLY],
            "unrecognized": k[Kind.UNKNOWN],
            "unverified": k[UNVERIFIED],
            "unsubscribes": k[UNSUBSCRIBE],
            "poison": self.poison,
            "suppressed": self.suppressed,
            "unsubscribed": self.unsubscribed,
        }


def policy_of(settings: Settings) -> Policy:
    return Policy(settings.bounce_soft_threshold, timedelta(days=settings.bounce_soft_reset_days))


def message_key(raw: bytes) -> tuple[str, str]:
    """(SHA-256 key, Message-ID): by Message-ID when there is one, else by content."""
    try:
        head = raw[:65536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        mid = clean(email.message_from_bytes(head).get("Message-ID", ""), 250)
    except Exception:  # a header block the parser chokes on: key by content
        mid = ""
    basis = mid.encode() if mid else raw
    return hashlib.sha256(basis).hexdigest(), mid


def _key_lookup(session: Session) -> KeyLookup:
    """A subscriber's link key (VERP tags sign it); LookupError when the id is gone."""

    def key_of(subscriber_id: int) -> str | None:
        found = session.execute(
            select(Subscriber.link_key).where(Subscriber.id == subscriber_id)
        ).first()
        if found is None:
            raise LookupError(subscriber_id)
        return found[0]

    return key_of


def _error(exc: BaseException) -> str:
    """``IndexError in yale.py:52: list index out of range`` — where a parser failed."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return clean(f"{type(exc).__name__}{where}: {exc}", 500)


def _unsubscribe(
    session: Session, claims: set[mailto.Claim], secret: str, report: ProcessReport
) -> tuple[str, str]:
    genuine = set()
    for claim in claims:
        sub = session.get(Subscriber, claim.subscriber_id)
        if sub is not None and secret and claim.genuine(secret, sub.email):
            genuine.add((sub.id, claim.list_id, sub.email))
    if len(genuine) != 1:
        why = "its signature does not verify" if not genuine else "it names several subscribers"
        return UNVERIFIED, f"unsubscribe request: {why}; nobody unsubscribed"
    sid, lid, address = genuine.pop()
    ml = session.get(MailingList, lid)
    unsubscribe_from(session, sid, lid)
    report.unsubscribed.append(address)
    return UNSUBSCRIBE, f"subscriber {sid} unsubscribed from {ml.slug if ml else lid} by mail"


def _apply(
    session: Session, finding: Finding, mid: str, settings: Settings, report: ProcessReport
) -> tuple[str, str]:
    if finding.kind in REPORTS and finding.subscriber_id is None:
        named = ", ".join(sorted(finding.addresses)[:10]) or "nobody"
        detail = f"{finding.detail} naming {named}: {finding.unverified}; nobody changed"
        return UNVERIFIED, detail
    decision = apply_finding(
        session, finding, f"message {mid or '(no Message-ID)'}", policy_of(settings)
    )
    if decision is None and finding.kind in REPORTS:
        return finding.kind.value, f"{finding.detail}: subscriber {finding.subscriber_id} is gone"
    if decision is not None and decision.suppressed:
        report.suppressed.append(decision.email)
    return finding.kind.value, finding.detail


def _poison(
    db: Engine, incoming: Incoming, key: str, mid: str, exc: Exception, report: ProcessReport
) -> None:
    error = _error(exc)
    with session_scope(db) as s:
        s.add(ProcessedMessage(key=key, outcome=POISON, message_id=mid or None, detail=error))
    report.kinds[POISON] += 1
    report.poison.append(f"{mid or '(no Message-ID)'}: {error}")
    try:
        where = incoming.set_aside()
    except OSError as move:
        log.warning("could not set aside poison message %s: %s", mid, move)
        return
    log.warning("poison message %s (%s)%s", mid, error, f", moved to {where}" if where else "")


def process_one(db: Engine, incoming: Incoming, settings: Settings, report: ProcessReport) -> None:
    key, mid = message_key(incoming.raw)
    report.messages += 1
    with session_scope(db) as s:
        seen = s.scalar(select(ProcessedMessage.outcome).where(ProcessedMessage.key == key))
    if seen is not None:
        report.already_processed += 1
        if seen == POISON:
            try:
                incoming.set_aside()  # recorded last time, but the move did not happen
            except OSError as move:
                log.warning("could not set aside poison message %s: %s", mid, move)
        return
    try:
        # Every parser step: the stdlib's, flufl.bounce's detectors, ours.
        msg: Message = email.message_from_bytes(incoming.raw, policy=email.policy.compat32)
        claims = mailto.claims(envelope_addresses(msg), settings.bounce_address)
        if claims:
            finding = None
        else:
            with session_scope(db) as s:
                finding = classify(
                    msg, settings.bounce_address, settings.secret_key, _key_lookup(s)
                )
    except SQLAlchemyError:
        raise  # the database's trouble is not the message's: stop, retry next run
    except Exception as exc:
        _poison(db, incoming, key, mid, exc, report)
        return
    with session_scope(db) as s:
        if finding is None:
            outcome, detail = _unsubscribe(s, claims, settings.secret_key, report)
        else:
            outcome, detail = _apply(s, finding, mid, settings, report)
        report.kinds[outcome] += 1
        s.add(
            ProcessedMessage(
                key=key, outcome=outcome, message_id=mid or None, detail=clean(detail, 2000)
            )
        )


def process_messages(
    db: Engine, settings: Settings, messages: Iterable[bytes | Incoming]
) -> ProcessReport:
    """Each message in its own transaction: a crash mid-mailbox loses nothing done."""
    report = ProcessReport()
    for item in messages:
        process_one(db, item if isinstance(item, Incoming) else Incoming(item), settings, report)
    return report
