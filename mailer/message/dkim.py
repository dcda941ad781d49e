"""DKIM signing (RFC 6376): rsa-sha256 (and ed25519-sha256), relaxed/relaxed, key loaded once.

dkimpy signs in pure Python and parses the key on every call (13-20 ms a
message here, PERF-NOTES.md); this signer does the same canonicalization and
uses OpenSSL through `cryptography` (under 1 ms). The body hash comes from
canonical body segments prepared once per issue (body.py). The tags before
bh= are folded and canonicalized once a second, not per message (``_tags``);
a message factory prepares the rest of what its messages share and calls
``sign_relaxed``. Tests verify the signatures with dkimpy's verifier, which
stays the judge, and compare them byte for byte with the straightforward
construction.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from mailer.errors import SettingsError
from mailer.message.headers import LINE

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
# Over-signed (RFC 6376 8.15): listed once more than they occur, so an added
# instance — a second Subject prepended above ours — breaks the signature.
OVERSIGNED = frozenset(
    {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }
)
_WSP = re.compile(rb"[ \t\r\n]+")
_BH_LENGTH = len("bh=;") + 44  # base64 of a SHA-256 digest is 44 characters


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2: lower-case name, unfold, collapse whitespace, trim."""
    if b"\x0b" not in value and b"\x0c" not in value:
        # bytes.split() cuts at runs of space, tab, CR, LF (and VT, FF: hence the
        # test) and drops the ends: the regex's work, in a third of its time.
        return name.strip().lower() + b":" + b" ".join(value.split()) + b"\r\n"
    return name.strip().lower() + b":" + _WSP.sub(b" ", value).strip() + b"\r\n"


# Most signed headers (From, Subject, List-Id, Content-Type…) are the same in
# every message of a campaign: their canonical forms are kept, not redone
# per message. The per-recipient ones (Date, To, Message-ID, List-Unsubscribe)
# pass through the cache without pushing the shared ones out.
_relaxed_kept = lru_cache(maxsize=256)(relaxed_header)


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
        # (t, h= names, the parts of the tags before bh=): see _tags.
        self._kept_tags: tuple[int, tuple[str, ...], tuple[bytes, bytes, bytes]] | None = None

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
        names = signed_names(headers)
        body_hash = hashlib.sha256(b"".join(canonical_body)).digest()
        return self.sign_relaxed(names, b"".join(_select(headers, names)), body_hash, timestamp)

    def sign_relaxed(
        self,
        names: Sequence[str],
        signed_headers: bytes,
        body_hash: bytes,
        timestamp: int | None = None,
    ) -> bytes:
        """``sign`` from its parts: the h= ``names``, the relaxed forms of the headers
        they select, in that order (``_select``), and the body's SHA-256."""
        if len(body_hash) != 32:  # _tags folds for the 44 base64 characters of SHA-256
            raise ValueError("body_hash: a SHA-256 digest is 32 bytes")
        t = timestamp or int(time.time())
        head, canonical, bh_joiner = self._tags(tuple(names), t)
        bh = b"bh=" + base64.b64encode(body_hash) + b";"
        # The tags as _fold folds them, and their relaxed form (RFC 6376
        # 3.4.2: each fold a single space), from the part kept for this second.
        tags = head + bh_joiner + bh + b"\r\n\tb="
        signed = signed_headers + canonical + (b" " if bh_joiner else b"") + bh + b" b="
        b64 = base64.b64encode(self._sign(signed))
        folded = b"\r\n\t ".join(b64[i : i + 70] for i in range(0, len(b64), 70))
        return b"DKIM-Signature:" + tags + folded + b"\r\n"

    def _tags(self, names: tuple[str, ...], t: int) -> tuple[bytes, bytes, bytes]:
        """(the tags before bh=, folded; their relaxed header line without CRLF; what goes
        before bh=): all the same for a campaign's messages within one second."""
        kept = self._kept_tags
        if kept is not None and kept[0] == t and (kept[1] is names or kept[1] == names):
            return kept[2]
        tokens = [
            "v=1;",
            f"a={self.algorithm};",
            "c=relaxed/relaxed;",
            f"d={self.domain};",
            f"s={self.selector};",
            f"t={t};",
            *_h_tokens(names),
        ]
        lines, width = _fold(tokens)
        # The bh= token (always 48 characters) as _fold would add it.
        joiner = "" if lines[-1].endswith(":") else " "
        if width + len(joiner) + _BH_LENGTH > LINE:
            joiner = "\r\n\t"
        head = "\r\n".join(lines).encode("ascii")
        canonical = relaxed_header(b"DKIM-Signature", head)[:-2]  # more tags follow: no CRLF
        parts = (head, canonical, joiner.encode("ascii"))
        self._kept_tags = (t, names, parts)  # one tuple: threads see the old or the new
        return parts


def signed_names(headers: Sequence[tuple[bytes, bytes]]) -> list[str]:
    """The h= list: every instance of each signed header, plus one for the over-signed."""
    return list(_names_for(tuple(name for name, _ in headers)))


@lru_cache(maxsize=64)  # the same header names, in the same order, for a whole campaign
def _names_for(header_names: tuple[bytes, ...]) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for name in header_names:
        key = name.strip().lower().decode("ascii")
        counts[key] = counts.get(key, 0) + 1
    names: list[str] = []
    for h in SIGNED:
        if h in counts:
            names += [h] * (counts[h] + (h in OVERSIGNED))
    return tuple(names)


def _select(headers: Sequence[tuple[bytes, bytes]], names: Sequence[str]) -> list[bytes]:
    """RFC 6376 5.4.2: each listed name takes the next instance from the bottom up;
    a name listed beyond its instances (over-signing) contributes nothing."""
    plan = selection(tuple(name for name, _ in headers), tuple(names))
    return [_relaxed_kept(*headers[i]) for i in plan]


@lru_cache(maxsize=64)
def selection(header_names: tuple[bytes, ...], names: tuple[str, ...]) -> tuple[int, ...]:
    """Which header (by position) each listed name signs: the same for a whole campaign."""
    remaining: dict[str, list[int]] = {}
    for i, name in enumerate(header_names):
        remaining.setdefault(name.strip().lower().decode("ascii"), []).append(i)
    out = []
    for n in names:
        instances = remaining.get(n)
        if instances:
            out.append(instances.pop())
    return tuple(out)


def _h_tokens(names: Sequence[str]) -> list[str]:
    # FWS is allowed around the colons of h= (RFC 6376 3.5), so the list folds.
    tokens = [n + ":" for n in names]
    tokens[0] = "h=" + tokens[0]
    tokens[-1] = tokens[-1][:-1] + ";"
    return tokens


def _fold(tokens: Sequence[str]) -> tuple[list[str], int]:
    """Tags after ``DKIM-Signature:``, folded with a tab so lines stay within 78 characters:
    the lines, and the width of the last one."""
    lines = [""]
    width = len("DKIM-Signature:")
    for token in tokens:
        joiner = "" if lines[-1].endswith(":") else " "
        if width + len(joiner) + len(token) > LINE:
            lines.append("\t" + token)
            width = 1 + len(token)
        else:
            lines[-1] += joiner + token
            width += len(joiner) + len(token)
    return lines, width
