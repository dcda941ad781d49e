"""What a message in the bounce mailbox says, and whom it provably concerns.

RFC 3464 DSNs are graded by the ``Status:`` of their per-recipient block
(``mailer.grading``): ``Action: delayed`` is only noted, 4.x.x is soft even
when the action is ``failed``, 5.7.x is a block. Non-standard bounces go
through flufl.bounce. ARF (RFC 5965) feedback reports are complaints; RFC
3834 auto-replies and out-of-office messages are not bounces at all.

What a report *says* (``addresses``) is only a claim. Whom it concerns is
proved by our VERP return path (DSNs) or our Message-ID (complaints), see
``mailer.bounces.verify``; without that proof the finding is unverified and
acts on nobody.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from email.message import Message

from mailer.bounces import dsn, verify
from mailer.bounces.verp import KeyLookup
from mailer.grading import Grade, enhanced_code, grade_enhanced, grade_status

_AUTO_SUBJECT = re.compile(
    r"(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|vacation|abwesen|"
    r"absence|自动回复|不在办公室)",
    re.IGNORECASE,
)
_TEXT_LIMIT = 65536  # characters of a non-standard bounce searched for a status code


class Kind(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    BLOCK = "block"  # 5.7.x: policy, spam, DMARC; the address is fine
    FAIL = "fail"  # another permanent failure (too big, loop): the address is fine
    DELAYED = "delayed"  # still being retried: noted, nothing else
    COMPLAINT = "complaint"
    AUTO_REPLY = "auto_reply"
    UNKNOWN = "unknown"


# Findings that are about one delivery and would be recorded against a subscriber.
REPORTS = frozenset({Kind.HARD, Kind.SOFT, Kind.BLOCK, Kind.FAIL, Kind.DELAYED, Kind.COMPLAINT})
_BY_GRADE = {Grade.HARD: Kind.HARD, Grade.SOFT: Kind.SOFT, Grade.BLOCK: Kind.BLOCK}


@dataclass
class Finding:
    kind: Kind
    addresses: set[str] = field(default_factory=set)  # what the report names: a claim
    campaign_id: int | None = None  # proved by our VERP tag or Message-ID
    subscriber_id: int | None = None
    unverified: str = ""  # why no subscriber is proved, for a report
    status: str = ""  # RFC 3463 code, e.g. "5.1.1"
    diagnostic: str = ""  # the remote server's words
    detail: str = ""


def _report_type(msg: Message) -> str:
    if msg.get_content_type() != "multipart/report":
        return ""
    return str(msg.get_param("report-type", "") or "").lower()


def _is_auto_reply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted", "")).lower()
    if auto.startswith("auto-replied") or auto.startswith("auto-generated"):
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Autoresponder"):
        return True
    if str(msg.get("Precedence", "")).lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(str(msg.get("Subject", ""))))


def _complaint(msg: Message) -> Finding:
    finding = Finding(Kind.COMPLAINT, detail="ARF report")
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            text = part.as_string()
            m = re.search(r"^Original-Rcpt-To:\s*(\S+)", text, re.MULTILINE | re.IGNORECASE)
            if m:
                finding.addresses.add(dsn.clean(m[1].strip("<>").lower(), 320))
            kind = re.search(r"^Feedback-Type:\s*(\S+)", text, re.MULTILINE | re.IGNORECASE)
            finding.detail = dsn.clean(f"ARF {kind[1] if kind else 'report'}", 100)
    return finding


def _from_dsn(statuses: list[dsn.RecipientStatus]) -> Finding | None:
    chosen = dsn.choose(statuses)
    if chosen is None:
        return None
    status = chosen.status or enhanced_code(chosen.diagnostic) or ""
    if chosen.action == "delayed":
        kind = Kind.DELAYED
    else:
        grade = chosen.grade if chosen.status else grade_status(status, chosen.action)
        if grade is not None:
            kind = _BY_GRADE.get(grade, Kind.FAIL)
        else:
            kind = Kind.FAIL if chosen.action == "failed" else Kind.UNKNOWN
    return Finding(
        kind,
        status=status,
        diagnostic=chosen.diagnostic,
        detail=f"DSN {chosen.action or 'without action'} {status}".rstrip(),
    )


def _report_text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload[:_TEXT_LIMIT].decode("utf-8", "replace")
    return ""


def _from_flufl(msg: Message) -> Finding | None:
    # Imported here: flufl.bounce's detectors take a quarter second to import,
    # paid by every delivery process, which only needs this module's types.
    from flufl.bounce import all_failures

    temporary, permanent = all_failures(msg)
    if not (permanent or temporary):
        return None
    chosen = permanent or temporary
    code = enhanced_code(_report_text(msg)) or ""
    if not permanent:
        kind = Kind.SOFT
    elif code.startswith("5"):
        kind = _BY_GRADE.get(grade_enhanced(code) or Grade.FAIL, Kind.FAIL)
    else:
        kind = Kind.HARD  # flufl.bounce's reading of a bounce with no status code
    addresses = {dsn.clean(a.decode("utf-8", "replace").lower(), 320) for a in chosen}
    return Finding(
        kind,
        addresses,
        status=code,
        detail="bounce " + ("(permanent)" if permanent else "(temporary)"),
    )


def classify(
    msg: Message, bounce_base: str, secret: str, key_of: KeyLookup | None = None
) -> Finding:
    """``key_of`` gives a subscriber's link key, to verify VERP tags bound to it."""
    if _report_type(msg) == "feedback-report":
        finding = _complaint(msg)
        proof = verify.by_message_id(msg, secret)
    else:
        statuses = dsn.recipients(msg)
        found = _from_dsn(statuses) or _from_flufl(msg)
        if found is None:
            kind = Kind.AUTO_REPLY if _is_auto_reply(msg) else Kind.UNKNOWN
            return Finding(kind, detail="auto-reply" if kind is Kind.AUTO_REPLY else "")
        finding = found
        finding.addresses |= {s.recipient for s in statuses if s.recipient}
        proof = verify.by_verp(msg, bounce_base, secret, key_of)
    if finding.kind in REPORTS:
        finding.campaign_id, finding.subscriber_id = proof.campaign_id, proof.subscriber_id
        finding.unverified = proof.reason
    return finding
