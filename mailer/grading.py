"""Whose failure is it? Grading SMTP replies and DSN statuses (RFC 3463, RFC 5248).

One grading for both places a recipient's failure is learnt: the reply to
RCPT TO or to the end of DATA at send time, and the ``Status:`` of a delivery
status notification read later from the bounce mailbox. The enhanced status
code decides; the basic reply code is used only when there is none, because
relays put blocks (5.7.x) and full mailboxes (5.2.2) under the same 550/552
as unknown users.

- ``HARD``: the address is wrong or disabled (5.1.x but 5.1.7/5.1.8, which
  name the sender's address; 5.2.1): fail and suppress.
- ``SOFT``: try again later (4.x.x, 5.2.2 mailbox full): retry, then score.
- ``BLOCK``: policy, spam, DMARC/SPF/DKIM (5.7.x), our sender address refused
  (5.1.7, 5.1.8): this delivery fails, the
  address is fine, the campaign counts it (a relay that blocks everyone is the
  sender's problem, not the list's).
- ``FAIL``: any other permanent failure (message too big, media not
  supported, routing loops): this delivery fails, nobody is suppressed.
"""

from __future__ import annotations

import re
from enum import StrEnum

# A class digit, a subject of up to 3 digits and a detail of up to 3 digits,
# not part of a longer dotted number (an IP address or a version).
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]|\.\d)")


class Grade(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    BLOCK = "block"
    FAIL = "fail"


def enhanced_code(text: str) -> str | None:
    """The first RFC 3463 enhanced status code in ``text``, e.g. ``"5.1.1"``."""
    match = _ENHANCED.search(text or "")
    return ".".join(match.groups()) if match else None


def grade_enhanced(code: str) -> Grade | None:
    """Grade an enhanced status code; None for success (2.x.x) or nonsense."""
    parts = code.strip().split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    klass, subject, detail = (int(p) for p in parts)
    if klass == 4:
        return Grade.SOFT
    if klass != 5:
        return None
    if subject == 1:
        # X.1.7 and X.1.8 are about the sender's address (ours, RFC 3463), which
        # Postfix refuses at RCPT time by default: every recipient would be hard.
        return Grade.BLOCK if detail in (7, 8) else Grade.HARD
    if subject == 2:
        if detail == 1:
            return Grade.HARD
        if detail == 2:
            return Grade.SOFT
        return Grade.FAIL
    if subject == 7:
        return Grade.BLOCK
    return Grade.FAIL


def grade_basic(code: int) -> Grade | None:
    """Grade a basic SMTP reply code when no enhanced code was given."""
    if 400 <= code < 500:
        return Grade.SOFT
    if code in (550, 551, 553):
        return Grade.HARD
    if code == 552:
        return Grade.SOFT
    if 500 <= code < 600:
        return Grade.FAIL
    return None


def grade_reply(code: int, text: str = "") -> Grade | None:
    """Grade an SMTP reply (``code`` and its text); None when it is not a failure.

    The enhanced code must agree with the basic code's class (a 550 quoting
    "4.2.0" in its text is still permanent), otherwise the basic code decides.
    """
    if code < 400:
        return None
    found = enhanced_code(text)
    if found is not None and found[0] == str(code)[0]:
        graded = grade_enhanced(found)
        if graded is not None:
            return graded
    return grade_basic(code)


def grade_status(status: str | None, action: str | None = None) -> Grade | None:
    """Grade a DSN per-recipient field set by its ``Status:`` and ``Action:``.

    ``delayed``, ``delivered``, ``relayed`` and ``expanded`` are not failures
    (None). A ``failed`` action with a 4.x.x status (queue expired, host down)
    is soft: the address may well be fine.
    """
    act = (action or "").strip().lower()
    if act and act != "failed":
        return None
    code = enhanced_code(status or "")
    if code is None:
        return None
    return grade_enhanced(code)
