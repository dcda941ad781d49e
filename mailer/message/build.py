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
import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from mailer.message.body import EncodedBody, dot_stuffed
from mailer.message.dkim import DkimSigner, relaxed_header, selection, signed_names
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
from subscribers.keyedmac import KeyedMac
from subscribers.tokens import Tokens

# The per-recipient headers, in the order they open every message.
PERSONAL = ("Date", "To", "Message-ID", "List-Unsubscribe")


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
    global _date_kept
    t = time.time() if timestamp is None else timestamp
    second = math.floor(t)
    if t - second >= 0.999999:
        # fromtimestamp rounds to the microsecond: the last one may be the next second.
        return format_datetime(datetime.fromtimestamp(t, UTC))
    kept = _date_kept
    if kept[0] == second:
        return kept[1]
    text = format_datetime(datetime.fromtimestamp(second, UTC))
    _date_kept = (second, text)  # one tuple: threads see the old or the new pair
    return text


# The header changes once a second, and format_datetime cost 3 us a message.
_date_kept: tuple[int | None, str] = (None, "")


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
        self._message_ids = KeyedMac(sender.secret_key.encode(), hashlib.sha256)
        if self.signers:
            self._prepare_signing()

    def _prepare_signing(self) -> None:
        """What every signature of this factory's messages shares, made once.

        The h= list and which header each name selects depend only on the
        header names, fixed here; the relaxed forms of the static headers and
        the body hash's state after the body's leading literal text (in the
        example issue, the text part up to its first link: a third of the
        body, 10 us of hashing) are the same in every message.
        """
        names = [name.encode() for name in PERSONAL] + [name for name, _ in self._static_pairs]
        self._signed_names = tuple(signed_names([(name, b"") for name in names]))
        static = [relaxed_header(*pair) for pair in self._static_pairs]
        relaxed: list[bytes] = []
        self._personal_slots: list[tuple[int, int]] = []  # (place in h= order, header)
        for place, i in enumerate(selection(tuple(names), self._signed_names)):
            if i < len(PERSONAL):
                self._personal_slots.append((place, i))
                relaxed.append(b"")
            else:
                relaxed.append(static[i - len(PERSONAL)])
        self._relaxed_headers = tuple(relaxed)
        skeleton = [
            self._text_head,
            *self._text.canonical,
            self._html_head,
            *self._html.canonical,
            self._tail,
        ]
        self._body_fixed = next((k for k, seg in enumerate(skeleton) if seg is None), len(skeleton))
        self._body_prefix = hashlib.sha256(
            b"".join(seg or b"" for seg in skeleton[: self._body_fixed])
        )

    def values(self, r: Recipient) -> dict[str, str]:
        unsubscribe, preferences = self.tokens.message_links(
            r.subscriber_id, self.sender.list_id, r.key
        )
        values = {
            "name": r.name,
            "email": r.email,
            "unsubscribe_url": f"{self.base_url}/unsubscribe/{unsubscribe}",
            "preferences_url": f"{self.base_url}/preferences/{preferences}",
        }
        for key, value in r.attributes.items():
            values[f"attr.{key}"] = str(value)
        return values

    def message_id(self, subscriber_id: int) -> str:
        """``message_id`` for this campaign, with the HMAC keyed once."""
        local = f"{self.sender.campaign_key}.{subscriber_id}"
        tag = self._message_ids.hexdigest(local.encode())[:12]
        return f"<{local}.{tag}@{self.from_domain}>"

    def build(self, r: Recipient, date: float | None = None) -> OutgoingMessage:
        values = self.values(r)
        to_header, smtputf8 = mailbox(r.name, r.email)
        mid = self.message_id(r.subscriber_id)
        unsub = f"<{values['unsubscribe_url']}>"
        make_mailto = self.sender.unsubscribe_mailto
        mailto = make_mailto(r.subscriber_id, r.email) if make_mailto else None
        personal = (
            rfc5322_date(date),
            to_header,
            mid,
            f"{unsub},\r\n <{mailto}>" if mailto else unsub,
        )
        # Folded at 78 where a space allows; only a SMTPUTF8 message has 8-bit headers.
        lines = [fold_line(f"{n}: {v}") for n, v in zip(PERSONAL, personal, strict=True)]
        text = self._text.render(values)
        html = self._html.render(values, _escape_html)
        head = b"".join(lines) + self._static_headers
        if self.signers:
            head = self._signatures(lines, text, html) + head
        data = b"".join([head, b"\r\n", self._text_head, *text, self._html_head, *html, self._tail])
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

    def _signatures(self, lines: list[bytes], text: list[bytes], html: list[bytes]) -> bytes:
        """The DKIM-Signature lines: what ``DkimSigner.sign`` makes of the message's
        headers and canonical body, from the parts prepared in ``_prepare_signing``."""
        relaxed = list(self._relaxed_headers)
        for place, i in self._personal_slots:
            relaxed[place] = relaxed_header(*_pair(lines[i]))
        signed = b"".join(relaxed)
        canonical = [
            self._text_head,
            *self._text.canonical_of(text),
            self._html_head,
            *self._html.canonical_of(html),
            self._tail,
        ]
        body = self._body_prefix.copy()
        # Chunk by chunk: joining them first copied 40 KB for nothing. Only the
        # long literal stretch (over 2 KB) releases the GIL while it is hashed.
        for chunk in canonical[self._body_fixed :]:
            body.update(chunk)
        body_hash = body.digest()
        # Each signature covers the same headers and body (not the others'
        # DKIM-Signature fields), so their order does not matter.
        return b"".join(
            signer.sign_relaxed(self._signed_names, signed, body_hash) for signer in self.signers
        )


def _pair(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name, value
