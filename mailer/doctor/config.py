"""Checks of the settings alone, no network: links, keys, the footer, the EHLO name."""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr
from urllib.parse import urlsplit

from mailer.doctor.findings import Finding, Level
from mailer.settings import Settings, env_of
from mailer.transport.smtp import ehlo_name


def from_domain(settings: Settings) -> str:
    return parseaddr(settings.from_address)[1].rpartition("@")[2].lower().rstrip(".")


def return_path_domain(settings: Settings) -> str:
    """Where bounces go: the VERP base's domain, else the From address's (no VERP)."""
    if settings.bounce_address:
        return settings.bounce_address.rpartition("@")[2].lower().rstrip(".")
    return from_domain(settings)


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _set(settings_name: str, value: str) -> str:
    return f'set {settings_name} = "{value}" in mailer.toml (or {env_of(settings_name)})'


def check_settings(settings: Settings) -> list[Finding]:
    out: list[Finding] = []
    url = urlsplit(settings.base_url)
    if url.scheme == "https":
        out.append(Finding("base_url", Level.OK, f"base_url {settings.base_url} is https"))
    else:
        host = url.hostname or "news.example.org"
        out.append(
            Finding(
                "base_url",
                Level.ERROR,
                f"base_url {settings.base_url} is not https: one-click unsubscribe "
                "(RFC 8058, required by Gmail and Yahoo) needs an https link",
                _set("base_url", f"https://{host}"),
            )
        )
    if settings.secret_key:
        out.append(Finding("secret_key", Level.OK, "secret_key is set"))
    else:
        out.append(
            Finding(
                "secret_key",
                Level.ERROR,
                "secret_key is empty: unsubscribe links cannot be signed",
                "run `mailer init` (it writes a random key) or set MAILER_SECRET_KEY "
                "to 32+ random characters",
            )
        )
    for name, what in (
        ("organization", "the sender's organization"),
        ("postal_address", "a postal address"),
    ):
        if getattr(settings, name):
            out.append(Finding(name, Level.OK, f"{name} is set (shown in the footer)"))
        else:
            out.append(
                Finding(
                    name,
                    Level.ERROR,
                    f"{name} is empty: the footer must show {what} (CAN-SPAM)",
                    _set(name, "…"),
                )
            )
    if not settings.dkim_key_file:
        out.append(
            Finding(
                "dkim.configured",
                Level.ERROR,
                "no DKIM key: Gmail and Yahoo require bulk mail to be DKIM-signed",
                "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.pem; "
                f"then set dkim_selector, dkim_domain = {from_domain(settings)!r}, "
                "dkim_key_file = 'dkim.pem'",
            )
        )
    name = ehlo_name(settings)
    if "." in name.strip(".") and not is_loopback(name):
        out.append(Finding("ehlo_name", Level.OK, f"EHLO name {name} is a full domain name"))
    else:
        out.append(
            Finding(
                "ehlo_name",
                Level.WARNING,
                f"EHLO name {name!r} is not a full domain name; receivers distrust such mail",
                _set("ehlo_name", "mail." + (from_domain(settings) or "example.org")),
            )
        )
    return out
