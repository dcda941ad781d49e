"""The per-recipient fields of an RFC 3464 delivery status notification.

A DSN's ``message/delivery-status`` part is one block of per-message fields
and then one block per recipient: ``Final-Recipient``, ``Action``,
``Status`` and ``Diagnostic-Code`` (the remote server's own words). The
``Status`` is what grading uses (``mailer.grading``); the diagnostic is kept
for staff. Everything here is read from mail anyone can send, so nothing in
it may raise on malformed input, and every string is cleaned before it is
stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from mailer.grading import Grade, grade_status

# Strings from a report are stored and printed: no control characters (NUL
# breaks PostgreSQL text, ESC a terminal), no lone surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLOCKS = re.compile(r"\r?\n[ \t]*\r?\n")
# What the DSN does with a recipient, mildest first: ambiguity never acts harder.
_SEVERITY: dict[Grade | None, int] = {
    None: 0,
    Grade.FAIL: 1,
    Grade.BLOCK: 2,
    Grade.SOFT: 3,
    Grade.HARD: 4,
}


def clean(value: object, limit: int = 1000) -> str:
    """Printable, storable text of at most ``limit`` characters."""
    text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(_CONTROL.sub(" ", text).split())[:limit]


@dataclass(frozen=True)
class RecipientStatus:
    recipient: str  # Final-Recipient (or Original-Recipient), lower-case
    action: str  # failed | delayed | delivered | relayed | expanded | ""
    status: str  # "5.1.1", or "" when absent
    diagnostic: str  # Diagnostic-Code without its type, e.g. "550 5.1.1 … User unknown"

    @property
    def grade(self) -> Grade | None:
        return grade_status(self.status, self.action)


def _address(value: str) -> str:
    """``rfc822; <user@example.org>`` → ``user@example.org``."""
    _, _, addr = value.rpartition(";")
    return clean(addr.strip().strip("<>").lower(), 320)


def _field_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    # Some relays base64- or qp-encode the part; the parser then leaves text.
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    return [HeaderParser().parsestr(block.strip() + "\n") for block in _BLOCKS.split(text)]


def recipients(msg: Message) -> list[RecipientStatus]:
    """Every per-recipient block of every delivery-status part (empty if none)."""
    found = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _field_blocks(part):
            recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
            action, status = block.get("Action"), block.get("Status")
            if recipient is None and action is None and status is None:
                continue  # the per-message block
            diagnostic = str(block.get("Diagnostic-Code", ""))
            found.append(
                RecipientStatus(
                    recipient=_address(str(recipient or "")),
                    action=clean(action or "", 20).lower(),
                    status=clean(status or "", 20),
                    diagnostic=clean(diagnostic.partition(";")[2] or diagnostic),
                )
            )
    return found


def choose(statuses: list[RecipientStatus]) -> RecipientStatus | None:
    """The block a DSN about one of our messages is about.

    We send every message to one recipient, so a genuine DSN for it has one
    block that is not a success. When there are several (a forwarding alias
    expanded, or a forgery listing others), the mildest is chosen: a report
    we cannot read unambiguously never suppresses on the strength of
    another recipient's failure.
    """
    relevant = [s for s in statuses if s.action in ("failed", "delayed", "")]
    if not relevant:
        return None
    return min(relevant, key=lambda s: _SEVERITY[s.grade])
