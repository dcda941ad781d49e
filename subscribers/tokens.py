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

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes


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
            p: hmac.new(s.make_signer().derive_key(), digestmod=hashlib.sha1)
            for p, s in self._serializers.items()
        }

    def make(
        self,
        purpose: Purpose,
        subscriber_id: int,
        list_id: int | None = None,
        key: str | None = None,
    ) -> str:
        """A link for the subscriber; ``key`` is their link key (None only for old rows)."""
        payload: list[int | str | None]
        if key is not None:
            payload = [subscriber_id, list_id, key_digest(key)]
        else:
            payload = [subscriber_id] if list_id is None else [subscriber_id, list_id]
        return self._sign(purpose, payload)

    def _sign(self, purpose: Purpose, payload: list[int | str | None]) -> str:
        """``URLSafeTimedSerializer.dumps``'s format, always uncompressed, which it reads back.

        dumps itself compresses a payload when zlib makes it shorter, which a
        short one (ids and a hex digest) seldom is: the bytes are then the same.
        """
        body = base64_encode(json.dumps(payload, separators=(",", ":")).encode())
        value = body + b"." + base64_encode(int_to_bytes(int(time.time())))
        mac = self._macs[purpose].copy()
        mac.update(value)
        return (value + b"." + base64_encode(mac.digest())).decode("ascii")

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
