"""Bounce messages for tests: flufl.bounce's own samples, and DSNs, ARF reports
and auto-replies made here for messages our pipeline sent."""

from __future__ import annotations

import os
import sys
import tarfile
from email.utils import formatdate
from pathlib import Path

import pytest


def flufl_samples(dest: Path) -> Path:
    """Unpack tests/data/*.txt of the flufl.bounce sdist that `make` downloaded."""
    found = sorted((Path(sys.prefix) / "sdists").glob("flufl_bounce-*.tar.gz"))
    if not found:
        message = "flufl.bounce sdist not in .venv/sdists (the Makefile downloads it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with tarfile.open(found[-1]) as tar:
        members = [
            m for m in tar.getmembers() if "/tests/data/" in m.name and m.name.endswith(".txt")
        ]
        tar.extractall(dest, members=members, filter="data")
    return next(dest.glob("*/tests/data"))


def dsn(
    to: str, recipient: str, status: str, action: str, original_id: str = "", vague: bool = False
) -> bytes:
    """An RFC 3464 delivery status notification, as a receiving MTA writes it."""
    final = "" if vague else f"Final-Recipient: rfc822; {recipient}\n"
    headers = f"Message-ID: {original_id}\n" if original_id else ""
    return f"""\
Return-Path: <>
Delivered-To: {to}
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {to}
Subject: Undelivered Mail Returned to Sender
Date: {formatdate()}
Message-ID: <dsn.{abs(hash((to, recipient, status, vague)))}@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.net. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

{final}Action: {action}
Status: {status}
Diagnostic-Code: smtp; {status[0]}50 {status} mailbox problem

--B
Content-Type: text/rfc822-headers

From: LMEC <news@example.org>
To: {recipient}
{headers}Subject: LMEC Newsletter

--B--
""".replace("\n", "\r\n").encode()


def arf(original_id: str, recipient: str) -> bytes:
    """An RFC 5965 complaint (feedback) report quoting our message."""
    return f"""\
From: Feedback Loop <fbl@isp.example.net>
To: abuse@example.org
Subject: Complaint about message from news@example.org
Date: {formatdate()}
Message-ID: <arf.{abs(hash(original_id))}@isp.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Rcpt-To: <{recipient}>

--F
Content-Type: message/rfc822

From: LMEC <news@example.org>
To: {recipient}
Message-ID: {original_id}
Subject: LMEC Newsletter

(body removed)
--F--
""".replace("\n", "\r\n").encode()


def out_of_office(to: str, sender: str) -> bytes:
    return f"""\
From: {sender}
To: {to}
Subject: Automatic reply: LMEC Newsletter, Issue 7
Date: {formatdate()}
Message-ID: <ooo.{abs(hash(sender))}@example.com>
Auto-Submitted: auto-replied
X-Autoreply: yes
Content-Type: text/plain

I am out of the office until Monday with limited access to email.
""".replace("\n", "\r\n").encode()


# (recipient, action, status, diagnostic) of one per-recipient block.
Block = tuple[str, str, str, str]


def _fold(text: str) -> str:
    """Folded at a space as Postfix folds long fields."""
    cut = text.rfind(" ", 0, 60)
    return text if len(text) <= 60 or cut < 1 else f"{text[:cut]}\n   {text[cut:]}"


def postfix_dsn(to: str, blocks: list[Block], queue_id: str = "4F1A2B3C4D") -> bytes:
    """A DSN as Postfix writes it (bounce(8) templates), delivered to ``to``.

    ``Action: delayed`` gives Postfix's "Delayed Mail" warning; anything else
    "Undelivered Mail Returned to Sender". Diagnostics are folded as Postfix
    folds them.
    """
    delayed = all(action == "delayed" for _, action, _, _ in blocks)
    subject = (
        "Delayed Mail (still being retried)" if delayed else "Undelivered Mail Returned to Sender"
    )
    intro = (
        "####################################################################\n"
        "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
        "####################################################################\n\n"
        "Your message could not be delivered for more than 4 hour(s).\n"
        "It will be retried until it is 5 day(s) old.\n"
        if delayed
        else "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n"
    )
    fields = "\n".join(
        f"Final-Recipient: rfc822; {rcpt}\nOriginal-Recipient: rfc822;{rcpt}\n"
        f"Action: {action}\nStatus: {status}\n"
        + ("Remote-MTA: dns; mail.example.com\n" if diag.startswith("smtp;") else "")
        + f"Diagnostic-Code: {_fold(diag)}\n"
        for rcpt, action, status, diag in blocks
    )
    boundary = f"{queue_id}.1796000000/mx.example.net"
    return f"""\
Return-Path: <>
Delivered-To: {to}
Received: by mx.example.net (Postfix) id {queue_id}; {formatdate()}
Date: {formatdate()}
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: {subject}
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"
Content-Transfer-Encoding: 8bit
Message-Id: <20261129020000.{queue_id}@mx.example.net>

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mx.example.net.

{intro}
For further assistance, please send mail to postmaster.

                   The mail system

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: {queue_id}
X-Postfix-Sender: rfc822; {to}
Arrival-Date: {formatdate()}

{fields}
--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <{to}>
From: LMEC <news@example.org>
To: {blocks[0][0]}
Subject: LMEC Newsletter

--{boundary}--
""".replace("\n", "\r\n").encode()


def unsubscribe_mail(to: str, sender: str, delivered_to: str | None = None) -> bytes:
    """What a mail client sends for a List-Unsubscribe mailto: (RFC 2369)."""
    return f"""\
Return-Path: <{sender}>
Delivered-To: {delivered_to or to}
From: {sender}
To: {to}
Subject: unsubscribe
Date: {formatdate()}
Message-ID: <unsub.{abs(hash((to, sender)))}@mail.example.com>
Content-Type: text/plain

This message was automatically generated by Mail to unsubscribe.
""".replace("\n", "\r\n").encode()
