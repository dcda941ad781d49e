"""What goes on the wire after EHLO: envelope commands and the DATA payload.

Our messages already have CRLF line ends, so dot-stuffing is one
``bytes.replace`` (smtplib's ``data()`` runs two regular expressions over
every message: 0.4-0.7 ms on 60 KB, PERF-NOTES.md); a built message carries
its payload made ahead (OutgoingMessage.wire).
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.transport.address import wire_address


@dataclass(frozen=True)
class Envelope:
    """Wire addresses (see address.py) and whether the transaction needs SMTPUTF8."""

    sender: str
    recipient: str
    smtputf8: bool = False


def envelope_commands(e: Envelope) -> bytes:
    extra = " SMTPUTF8 BODY=8BITMIME" if e.smtputf8 else ""
    commands = f"MAIL FROM:<{e.sender}>{extra}\r\nRCPT TO:<{e.recipient}>\r\nDATA\r\n"
    return commands.encode("utf-8" if e.smtputf8 else "ascii")


def wire_envelope(envelope_from: str, recipient: str, smtputf8: bool) -> Envelope | None:
    """The envelope as it goes on the wire; None if an address holds a line break."""
    sender, rcpt = wire_address(envelope_from), wire_address(recipient)
    if any(c in a.address for a in (sender, rcpt) for c in "\r\n"):
        return None
    return Envelope(sender.address, rcpt.address, smtputf8 or sender.smtputf8 or rcpt.smtputf8)


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 4.5.2 transparency, for data with CRLF line ends."""
    if data.startswith(b"."):
        data = b"." + data
    # No `in` test first: it scans 60 KB as slowly as replace does (~50 us).
    return data.replace(b"\r\n.", b"\r\n..")


def data_payload(msg: bytes) -> bytes:
    """The message as it goes after a 354: dot-stuffed and ended by ``CRLF.CRLF``."""
    payload = dot_stuff(msg)
    return payload + (b".\r\n" if payload.endswith(b"\r\n") else b"\r\n.\r\n")
