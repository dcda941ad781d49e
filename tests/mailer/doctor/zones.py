"""Zones, keys and settings for the doctor's tests against the local DNS server."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailer.settings import Settings
from tests.dns_server import LocalDns, txt
from tests.smtp_server import SmtpServer


@dataclass(frozen=True)
class Keys:
    rsa_file: Path
    rsa_p: str
    ed_file: Path
    ed_p: str
    other_p: str  # someone else's key


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _spki(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def zone(keys: Keys, *, rsa_p: str | None = None, dmarc: bool = True) -> str:
    lines = [
        f"mail2026._domainkey.example.org. 300 IN TXT {txt('v=DKIM1; k=rsa; p=' + (rsa_p or keys.rsa_p))}",
        f"ed2026._domainkey.example.org. 300 IN TXT {txt('v=DKIM1; k=ed25519; p=' + keys.ed_p)}",
        'example.org. 300 IN TXT "v=spf1 mx a ~all"',
        "example.org. 300 IN MX 10 mail.example.org.",
        "mail.example.org. 300 IN A 192.0.2.25",
        'other-esp.net. 300 IN TXT "v=spf1 include:_spf.other-esp.net ~all"',
        '_spf.other-esp.net. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 ~all"',
        "other-esp.net. 300 IN MX 10 mx.other-esp.net.",
    ]
    if dmarc:
        lines.append(
            '_dmarc.example.org. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"'
        )
    return "\n".join(lines) + "\n"


def good_settings(keys: Keys, relay: SmtpServer, dns: LocalDns) -> Settings:
    return Settings(
        from_address="LMEC <news@example.org>",
        base_url="https://news.example.org",
        secret_key="s" * 32,
        organization="LMEC",
        postal_address="No.5 Houyingfang Hutong, Beijing",
        dkim_selector="mail2026",
        dkim_domain="example.org",
        dkim_key_file=str(keys.rsa_file),
        dkim_ed25519_selector="ed2026",
        dkim_ed25519_key_file=str(keys.ed_file),
        bounce_address="bounces@example.org",
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_security="auto",
        smtp_timeout=5,
        ehlo_name="mail.example.org",
        dns_resolver=dns.address,
    )


def env_of(s: Settings) -> dict[str, str]:
    return {
        "MAILER_FROM": s.from_address,
        "MAILER_BASE_URL": s.base_url,
        "MAILER_SECRET_KEY": s.secret_key,
        "MAILER_ORGANIZATION": s.organization,
        "MAILER_POSTAL_ADDRESS": s.postal_address,
        "MAILER_DKIM_SELECTOR": s.dkim_selector,
        "MAILER_DKIM_DOMAIN": s.dkim_domain,
        "MAILER_DKIM_KEY_FILE": s.dkim_key_file,
        "MAILER_DKIM_ED25519_SELECTOR": s.dkim_ed25519_selector,
        "MAILER_DKIM_ED25519_KEY_FILE": s.dkim_ed25519_key_file,
        "MAILER_BOUNCE_ADDRESS": s.bounce_address,
        "MAILER_SMTP_HOST": s.smtp_host,
        "MAILER_SMTP_PORT": str(s.smtp_port),
        "MAILER_SMTP_SECURITY": s.smtp_security,
        "MAILER_EHLO_NAME": s.ehlo_name,
        "MAILER_DNS_RESOLVER": s.dns_resolver,
    }


def make_keys(d: Path) -> Keys:
    ours = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed = ed25519.Ed25519PrivateKey.generate()
    (d / "rsa.pem").write_bytes(_pem(ours))
    (d / "ed.pem").write_bytes(_pem(ed))
    raw = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Keys(
        d / "rsa.pem", _spki(ours), d / "ed.pem", base64.b64encode(raw).decode(), _spki(other)
    )
