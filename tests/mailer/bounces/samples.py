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
