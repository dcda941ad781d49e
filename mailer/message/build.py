"""One recipient's message as bytes, from a variant prepared once per issue.

Everything that is the same for every recipient — the static headers, the
MIME skeleton, the QP-encoded literal stretches of both bodies and their DKIM
canonical forms — is built in ``__init__``. ``build`` fills in the recipient:
a few header lines, the QP of a handful of short values, a join, and (with
DKIM) one hash and one RSA signature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from mailer.message.body import EncodedBody, dot_stuffed
from mailer.message.dkim import DkimSigner
from mailer.message.headers import (
    clean,
    fold,
    fold_line,
    mailbox,
    parse_from,
    split_address,
)
from mailer.render.prepare import PreparedVariant
from mailer.render.split import _escape_html
from subscribers.tokens import Purpose, Tokens


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None  # Subscriber.link_key: binds the links to this person


@dataclass(frozen=True)
class SenderInfo:
    """Campaign-wide facts the headers need."""

    from_address: str  # "LMEC <news@example.org>"
    base_url: str
    list_id: int
    list_slug: str
    list_title: str
    campaign_key: str  # identifies the campaign in Message-IDs ("42", "test-…")
    secret_key: str
    feedback_id: str = ""
    subject_prefix: str = ""
    # (subscriber id, address) → the signed mailto: for List-Unsubscribe that
    # the bounce mailbox reader honours; None: no bounce address, no mailto.
    unsubscribe_mailto: Callable[[int, str], str | None] | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    envelope_to: str
    message_id: str
    data: bytes
    smtputf8: bool
    # ``data`` dot-stuffed and ended with CRLF.CRLF, as SMTP sends it after DATA,
    # made from segments stuffed once per issue (body.py); None: stuff ``data``.
    wire: bytes | None = None


def rfc5322_date(timestamp: float | None = None) -> str:
    """``Sun, 29 Nov 2026 02:24:57 +0000``: a numeric zone, as RFC 5322 3.3 asks (not GMT)."""
    when = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return format_datetime(when)


def message_id(campaign_key: str, subscriber_id: int, domain: str, secret: str) -> str:
    """Fixed per (campaign, subscriber): a retry carries the same Message-ID."""
    local = f"{campaign_key}.{subscriber_id}"
    tag = hmac.new(secret.encode(), local.encode(), hashlib.sha256).hexdigest()[:12]
    return f"<{local}.{tag}@{domain}>"


class MessageFactory:
    def __init__(
        self,
        variant: PreparedVariant,
        sender: SenderInfo,
        tokens: Tokens,
        signers: Sequence[DkimSigner] = (),
    ) -> None:
        self.variant = variant
        self.sender = sender
        self.tokens = tokens
        self.signers = tuple(signers)
        from_name, from_addr = parse_from(sender.from_address)
        self.from_domain = split_address(from_addr)[1] or "localhost"
        self.base_url = sender.base_url.rstrip("/")
        issue = variant.issue
        boundary = f"=_mailer_{secrets.token_hex(12)}"  # "=_" never occurs in QP text
        from_header, _ = mailbox(from_name, from_addr)
        static = [
            fold_line(f"From: {from_header}"),
            fold("Subject", sender.subject_prefix + issue.subject),
            b"MIME-Version: 1.0\r\n",
            fold("List-Id", f"{clean(sender.list_title)} <{sender.list_slug}.{self.from_domain}>"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"Precedence: bulk\r\n",
        ]
        if sender.feedback_id:
            static.append(fold("Feedback-ID", sender.feedback_id))
        static.append(
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode()
        )
        self._static_headers = b"".join(static)
        self._static_pairs = [_pair(line) for line in static]
        part = (
            '--{b}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        self._text_head = part.format(b=boundary, kind="plain").encode()
        self._html_head = ("\r\n" + part.format(b=boundary, kind="html")).encode()
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self._text = EncodedBody.from_template(variant.text)
        self._html = EncodedBody.from_template(variant.html)

    def values(self, r: Recipient) -> dict[str, str]:
        lid = self.sender.list_id
        values = {
            "name": r.name,
            "email": r.email,
            "unsubscribe_url": f"{self.base_url}/unsubscribe/"
            + self.tokens.make(Purpose.UNSUBSCRIBE, r.subscriber_id, lid, r.key),
            "preferences_url": f"{self.base_url}/preferences/"
            + self.tokens.make(Purpose.PREFERENCES, r.subscriber_id, key=r.key),
        }
        for key, value in r.attributes.items():
            values[f"attr.{key}"] = str(value)
        return values

    def build(self, r: Recipient, date: float | None = None) -> OutgoingMessage:
        values = self.values(r)
        to_header, smtputf8 = mailbox(r.name, r.email)
        mid = message_id(
            self.sender.campaign_key, r.subscriber_id, self.from_domain, self.sender.secret_key
        )
        unsub = f"<{values['unsubscribe_url']}>"
        make_mailto = self.sender.unsubscribe_mailto
        mailto = make_mailto(r.subscriber_id, r.email) if make_mailto else None
        personal = [
            ("Date", rfc5322_date(date)),
            ("To", to_header),
            ("Message-ID", mid),
            ("List-Unsubscribe", f"{unsub},\r\n <{mailto}>" if mailto else unsub),
        ]
        # Folded at 78 where a space allows; only a SMTPUTF8 message has 8-bit headers.
        lines = [fold_line(f"{n}: {v}") for n, v in personal]
        text, text_c = self._text.render(values)
        html, html_c = self._html.render(values, _escape_html)
        body = [self._text_head, *text, self._html_head, *html, self._tail]
        head = b"".join(lines) + self._static_headers
        if self.signers:
            canonical = [self._text_head, *text_c, self._html_head, *html_c, self._tail]
            pairs = [_pair(line) for line in lines] + self._static_pairs
            # Each signature covers the same headers and body (not the others'
            # DKIM-Signature fields), so their order does not matter.
            signatures = [signer.sign(pairs, canonical) for signer in self.signers]
            head = b"".join(signatures) + head
        data = head + b"\r\n" + b"".join(body)
        wire = b"".join(
            [
                dot_stuffed(head + b"\r\n"),
                self._text_head,
                *self._text.wire(text),
                self._html_head,
                *self._html.wire(html),
                self._tail,
                b".\r\n",
            ]
        )
        return OutgoingMessage(r.email, mid, data, smtputf8, wire)


def _pair(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name, value
