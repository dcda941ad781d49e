"""What a message in the bounce mailbox says: hard or soft bounce, complaint, auto-reply.

RFC 3464 DSNs and the many non-standard formats go through flufl.bounce;
ARF (RFC 5965) feedback reports are complaints; RFC 3834 auto-replies and
out-of-office messages are not bounces at all. Our VERP return path (in the
headers the receiving server adds) or our Message-ID (quoted in the report)
say which campaign and subscriber it is about, even when the report is vague.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

from flufl.bounce import all_failures

from mailer.bounces.verp import KeyLookup, parse_verp
from mailer.message.build import message_id

RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_OUR_ID = re.compile(r"<([0-9]+)\.([0-9]+)\.([0-9a-f]{12})@([^>]+)>")
_AUTO_SUBJECT = re.compile(
    r"(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|vacation|abwesen|"
    r"absence|自动回复|不在办公室)",
    re.IGNORECASE,
)
_STATUS = re.compile(r"^Status:\s*([245])\.(\d{1,3})\.(\d{1,3})", re.MULTILINE | re.IGNORECASE)


class Kind(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"
    AUTO_REPLY = "auto_reply"
    UNKNOWN = "unknown"


@dataclass
class Finding:
    kind: Kind
    addresses: set[str] = field(default_factory=set)  # the failing recipients
    campaign_id: int | None = None
    subscriber_id: int | None = None
    status: str = ""
    detail: str = ""


def _report_type(msg: Message) -> str:
    if msg.get_content_type() != "multipart/report":
        return ""
    return str(msg.get_param("report-type", "") or "").lower()


def _verp(msg: Message, base: str, secret: str, key_of: KeyLookup | None) -> tuple[int, int] | None:
    if not base:
        return None
    for name in RECIPIENT_HEADERS:
        for _, addr in getaddresses(msg.get_all(name, [])):
            found = parse_verp(addr, base, secret, key_of)
            if found:
                return found
    return None


def _our_message_id(msg: Message, secret: str) -> tuple[int, int] | None:
    """(campaign, subscriber) from a Message-ID of ours quoted anywhere in the report."""
    for part in msg.walk():
        payload = part.get_payload(decode=True) if not part.is_multipart() else None
        texts = [str(v) for k, v in part.items() if k.lower() == "message-id"]
        if isinstance(payload, bytes):
            texts.append(payload.decode("utf-8", "replace"))
        for text in texts:
            for m in _OUR_ID.finditer(text):
                cid, sid = int(m[1]), int(m[2])
                if message_id(m[1], sid, m[4], secret) == m[0]:
                    return cid, sid
    return None


def _status(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            text = part.as_string()
            m = _STATUS.search(text)
            if m:
                return f"{m[1]}.{m[2]}.{m[3]}"
    return ""


def _is_auto_reply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted", "")).lower()
    if auto.startswith("auto-replied") or auto.startswith("auto-generated"):
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Autoresponder"):
        return True
    if str(msg.get("Precedence", "")).lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(str(msg.get("Subject", ""))))


def _complaint(msg: Message, finding: Finding) -> Finding:
    finding.kind = Kind.COMPLAINT
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            text = part.as_string()
            m = re.search(r"^Original-Rcpt-To:\s*(\S+)", text, re.MULTILINE | re.IGNORECASE)
            if m:
                finding.addresses.add(m[1].strip("<>").lower())
            kind = re.search(r"^Feedback-Type:\s*(\S+)", text, re.MULTILINE | re.IGNORECASE)
            finding.detail = f"ARF {kind[1] if kind else 'report'}"
    return finding


def classify(
    msg: Message, bounce_base: str, secret: str, key_of: KeyLookup | None = None
) -> Finding:
    """``key_of`` gives a subscriber's link key, to verify VERP tags bound to it."""
    finding = Finding(Kind.UNKNOWN)
    ours = _verp(msg, bounce_base, secret, key_of) or _our_message_id(msg, secret)
    if ours:
        finding.campaign_id, finding.subscriber_id = ours
    report = _report_type(msg)
    if report == "feedback-report":
        return _complaint(msg, finding)
    finding.status = _status(msg)
    temporary, permanent = all_failures(msg)
    if permanent or temporary:
        chosen = permanent or temporary
        finding.kind = Kind.HARD if permanent else Kind.SOFT
        finding.addresses = {a.decode("utf-8", "replace").lower() for a in chosen}
        finding.detail = f"delivery failed{' (' + finding.status + ')' if finding.status else ''}"
        return finding
    if report == "delivery-status" and finding.status:
        # A DSN flufl.bounce could not read the recipient of: status and VERP decide.
        finding.kind = (
            Kind.HARD
            if finding.status.startswith("5")
            else (Kind.SOFT if finding.status.startswith("4") else Kind.UNKNOWN)
        )
        finding.detail = f"delivery status {finding.status}"
        return finding
    if _is_auto_reply(msg):
        finding.kind = Kind.AUTO_REPLY
        finding.detail = "auto-reply"
    return finding
