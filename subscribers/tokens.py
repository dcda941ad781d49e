"""Signed tokens for links in mail: unsubscribe, confirm, preferences.

itsdangerous with a salt per purpose, so a token made for one purpose is
rejected for every other. Every failure (bad signature, wrong purpose,
expired, malformed) raises the same BadToken, so an attacker learns nothing
from the answer.

A token names a subscriber by id *and* by a digest of the subscriber's
random key (``Subscriber.key``, made at creation), so a link made for an
erased person never acts on whoever holds that id later. Rows created
before the keys existed have none; their links, made without a digest,
still work for them, and only for keyless rows (``TokenClaims.fits``).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import int_to_bytes

from subscribers.keyedmac import KeyedMac


class Purpose(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    CONFIRM = "confirm"
    PREFERENCES = "preferences"


# Unsubscribe links must work in mail read long after it was sent.
MAX_AGE = {
    Purpose.UNSUBSCRIBE: timedelta(days=3 * 365),
    Purpose.CONFIRM: timedelta(hours=72),
    Purpose.PREFERENCES: timedelta(days=3 * 365),
}


class BadToken(Exception):
    """The token is not valid for this purpose (forged, expired or misused)."""


class ExpiredToken(BadToken):
    """Genuine, but too old; ``claims`` says whose it was (to offer a new one)."""

    def __init__(self, claims: TokenClaims) -> None:
        super().__init__("this link has expired")
        self.claims = claims


def key_digest(key: str) -> str:
    """What a token carries of the key: short, and the key itself stays out of URLs."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenClaims:
    subscriber_id: int
    list_id: int | None
    key_digest: str | None = None  # None: a link from before subscribers had keys

    def fits(self, key: str | None) -> bool:
        """Whether this token was made for the subscriber whose key is ``key``."""
        if key is None or self.key_digest is None:
            return key is None and self.key_digest is None
        return self.key_digest == key_digest(key)


class Tokens:
    def __init__(self, secret_key: str, max_age: dict[Purpose, timedelta] | None = None) -> None:
        if not secret_key:
            raise ValueError("a secret key is needed to sign links (run `mailer init`)")
        self._key = secret_key
        self._max_age = {**MAX_AGE, **(max_age or {})}
        self._serializers = {
            p: URLSafeTimedSerializer(secret_key, salt=f"mailer.{p.value}") for p in Purpose
        }
        # Making a token is on the send path (two per message): the signer's
        # HMAC is keyed once here and copied per token, where itsdangerous
        # derives the key, builds a signer and tries zlib on every call.
        self._macs = {
            p: KeyedMac(s.make_signer().derive_key(), hashlib.sha1)
            for p, s in self._serializers.items()
        }
        # The timestamp part changes once a second: (second, its encoded form).
        self._stamp: tuple[int | None, bytes] = (None, b"")

    def make(
        self,
        purpose: Purpose,
        subscriber_id: int,
        list_id: int | None = None,
        key: str | None = None,
    ) -> str:
        """A link for the subscriber; ``key`` is their link key (None only for old rows)."""
        return self._sign(purpose, _payload(subscriber_id, list_id, key))

    def message_links(
        self, subscriber_id: int, list_id: int | None, key: str | None
    ) -> tuple[str, str]:
        """(unsubscribe from ``list_id``, preferences): the two tokens every message carries.

        The same as two ``make`` calls, with the key's digest taken once.
        """
        digest = key_digest(key) if key is not None else None
        unsubscribe = _payload(subscriber_id, list_id, key, digest)
        preferences = _payload(subscriber_id, None, key, digest)
        return (
            self._sign(Purpose.UNSUBSCRIBE, unsubscribe),
            self._sign(Purpose.PREFERENCES, preferences),
        )

    def _sign(self, purpose: Purpose, payload: bytes) -> str:
        """``URLSafeTimedSerializer.dumps``'s format, always uncompressed, which it reads back.

        dumps itself compresses a payload when zlib makes it shorter, which a
        short one (ids and a hex digest) seldom is: the bytes are then the same.
        """
        now = int(time.time())  # as itsdangerous's TimestampSigner.get_timestamp
        second, stamp = self._stamp
        if second != now:
            stamp = _b64(int_to_bytes(now))
            self._stamp = (now, stamp)  # one tuple: threads see the old or the new pair
        value = _b64(payload) + b"." + stamp
        return (value + b"." + _b64(self._macs[purpose].digest(value))).decode("ascii")

    def read(self, purpose: Purpose, token: str) -> TokenClaims:
        max_age = int(self._max_age[purpose].total_seconds())
        serializer = self._serializers[purpose]
        try:
            payload = serializer.loads(token, max_age=max_age)
        except SignatureExpired:
            # The signature is genuine: read the payload to say whose link it was.
            raise ExpiredToken(_claims(serializer.loads(token))) from None
        except BadData:
            raise BadToken("this link is not valid") from None
        return _claims(payload)


def _payload(
    subscriber_id: int, list_id: int | None, key: str | None, digest: str | None = None
) -> bytes:
    """The payload as ``itsdangerous`` writes it: JSON with compact separators.

    Formatted by hand for plain ints and the hex digest, whose JSON is their
    text (json.dumps took half of a token's time); anything else (an int
    subclass, say) goes through json.
    """
    if key is not None and digest is None:
        digest = key_digest(key)
    plain = type(subscriber_id) is int and (list_id is None or type(list_id) is int)
    if digest is not None:
        if plain:
            lid = b"null" if list_id is None else b"%d" % list_id
            return b'[%d,%s,"%s"]' % (subscriber_id, lid, digest.encode("ascii"))
        payload: list[int | str | None] = [subscriber_id, list_id, digest]
    elif list_id is None:
        if plain:
            return b"[%d]" % subscriber_id
        payload = [subscriber_id]
    else:
        if plain:
            return b"[%d,%d]" % (subscriber_id, list_id)
        payload = [subscriber_id, list_id]
    return json.dumps(payload, separators=(",", ":")).encode()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """itsdangerous's ``base64_encode``: URL-safe base64 without the padding."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def _is_id(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _claims(payload: object) -> TokenClaims:
    if isinstance(payload, list) and len(payload) == 3:
        sid, lid, digest = payload
        if _is_id(sid) and (lid is None or _is_id(lid)) and isinstance(digest, str):
            return TokenClaims(sid, lid, digest)
    elif isinstance(payload, list) and 1 <= len(payload) <= 2 and all(map(_is_id, payload)):
        return TokenClaims(payload[0], payload[1] if len(payload) == 2 else None)
    raise BadToken("this link is not valid")
