"""DNS look-ups for the doctor (dnspython), and the records we would publish."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache

import dns.exception
import dns.resolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from publicsuffixlist import PublicSuffixList

from mailer.settings import dns_server


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # parses the bundled list: ~70 ms, so only when needed


class LookupFailed(Exception):
    """The resolver did not answer (timeout, SERVFAIL): unknown, not absent."""


@dataclass
class Dns:
    resolver: dns.resolver.Resolver

    @classmethod
    def make(cls, server: str = "", timeout: float = 3.0) -> Dns:
        if server:
            host, port = dns_server(server)
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [host]
            resolver.port = port
        else:
            try:
                resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = ["127.0.0.1"]
        resolver.timeout = timeout
        resolver.lifetime = timeout
        return cls(resolver)

    def _query(self, name: str, kind: str) -> list[object]:
        try:
            return list(self.resolver.resolve(name, kind, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise LookupFailed(f"{kind} {name}: {exc}") from None

    def txt(self, name: str) -> list[str]:
        """TXT strings of ``name``, each record's character-strings joined (RFC 7208 3.3)."""
        out = []
        for rdata in self._query(name, "TXT"):
            parts = getattr(rdata, "strings", ())
            out.append(b"".join(parts).decode("utf-8", "replace"))
        return out

    def addresses(self, name: str) -> list[str]:
        """A and AAAA records of ``name``."""
        return [
            str(getattr(r, "address", ""))
            for kind in ("A", "AAAA")
            for r in self._query(name, kind)
        ]

    def mx(self, name: str) -> list[str]:
        return [str(getattr(r, "exchange", "")).rstrip(".") for r in self._query(name, "MX")]


def org_domain(domain: str) -> str:
    """The organizational domain (public suffix + one label), for relaxed alignment."""
    domain = domain.lower().rstrip(".")
    return _psl().privatesuffix(domain) or domain


def aligned(a: str, b: str) -> bool:
    """DMARC relaxed alignment (RFC 7489 3.1): the same organizational domain."""
    return bool(a and b) and org_domain(a) == org_domain(b)


def tags(record: str) -> dict[str, str]:
    """``k=v; k=v`` tag lists (DKIM, DMARC), whitespace removed."""
    out = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip().lower()] = "".join(value.split())
    return out


def public_key_b64(private_key_pem: bytes) -> tuple[str, str]:
    """(k=, p=) of the DKIM key record for a PEM private key (RSA or Ed25519)."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "rsa", base64.b64encode(der).decode("ascii")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return "ed25519", base64.b64encode(raw).decode("ascii")
    raise ValueError("expected an RSA or Ed25519 private key")


def txt_record(name: str, value: str) -> str:
    """A zone-file line; long values split into 255-character strings (RFC 1035)."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return f"{name}. IN TXT " + " ".join(f'"{c}"' for c in chunks)
