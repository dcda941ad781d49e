"""DKIM signing (RFC 6376): rsa-sha256 (and ed25519-sha256), relaxed/relaxed, key loaded once.

dkimpy signs in pure Python and parses the key on every call (13-20 ms a
message here, PERF-NOTES.md); this signer does the same canonicalization and
uses OpenSSL through `cryptography` (under 1 ms). The body hash comes from
canonical body segments prepared once per issue (body.py). Tests verify the
signatures with dkimpy's verifier, which stays the judge.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from mailer.errors import SettingsError

# Signed when present; List-Unsubscribe-Post is not in dkimpy's default list,
# but RFC 8058 requires it to be signed.
SIGNED = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "precedence",
    "feedback-id",
)
_WSP = re.compile(rb"[ \t\r\n]+")


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2: lower-case name, unfold, collapse whitespace, trim."""
    return name.strip().lower() + b":" + _WSP.sub(b" ", value).strip() + b"\r\n"


class DkimSigner:
    """rsa-sha256 for an RSA key, ed25519-sha256 (RFC 8463) for an Ed25519 key."""

    def __init__(self, selector: str, domain: str, private_key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < 1024:
                raise SettingsError([f"dkim_key_file: a {key.key_size}-bit key is too weak"])
            self.algorithm = "rsa-sha256"
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            self.algorithm = "ed25519-sha256"
        else:
            raise SettingsError(["dkim_key_file: expected an RSA or Ed25519 private key"])
        self._key = key
        self.selector = selector
        self.domain = domain

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        # RFC 8463 section 3: Ed25519 signs the SHA-256 hash of the header data.
        assert isinstance(self._key, ed25519.Ed25519PrivateKey)
        return self._key.sign(hashlib.sha256(data).digest())

    @classmethod
    def from_file(cls, selector: str, domain: str, path: str) -> DkimSigner:
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise SettingsError([f"dkim_key_file: cannot read {path}: {exc.strerror}"]) from None
        try:
            return cls(selector, domain, pem)
        except TypeError:
            # cryptography raises TypeError for a key that needs a password.
            raise SettingsError(
                [
                    f"dkim_key_file: {path} is encrypted with a passphrase; mailer needs "
                    "an unencrypted key (e.g. `openssl pkey -in KEY -out plain.pem`, "
                    "kept readable by the mailer user only)"
                ]
            ) from None
        except ValueError as exc:
            raise SettingsError(
                [f"dkim_key_file: {path} is not a PEM private key: {exc}"]
            ) from None

    def sign(
        self,
        headers: Sequence[tuple[bytes, bytes]],
        canonical_body: Iterable[bytes],
        timestamp: int | None = None,
    ) -> bytes:
        """The DKIM-Signature header line (CRLF-terminated) for these headers and body.

        ``headers`` are (name, raw value after the colon) in message order.
        """
        body_hash = hashlib.sha256()
        for chunk in canonical_body:
            body_hash.update(chunk)
        present = {name.lower().decode("ascii") for name, _ in headers}
        names = [h for h in SIGNED if h in present]
        # The last instance of each header name is the one that is signed.
        last = {name.lower(): value for name, value in headers}
        tags = (
            f" v=1; a={self.algorithm}; c=relaxed/relaxed; d={self.domain}; s={self.selector};\r\n"
            f"\tt={timestamp or int(time.time())}; h={':'.join(names)};\r\n"
            f"\tbh={base64.b64encode(body_hash.digest()).decode('ascii')};\r\n\tb="
        ).encode("ascii")
        signed = b"".join(relaxed_header(n.encode(), last[n.encode()]) for n in names)
        signed += relaxed_header(b"DKIM-Signature", tags)[:-2]  # no final CRLF
        signature = self._sign(signed)
        b64 = base64.b64encode(signature)
        folded = b"\r\n\t ".join(b64[i : i + 70] for i in range(0, len(b64), 70))
        return b"DKIM-Signature:" + tags + folded + b"\r\n"
