"""One typed settings object: defaults, then ``mailer.toml``, then MAILER_* variables.

Every value is checked when loaded, and all problems are reported together,
each with where it came from. Secrets are kept out of ``repr`` so they never
reach a log line.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailer.errors import SettingsError

DEFAULT_CONFIG = Path("mailer.toml")
SECURITY = ("auto", "none", "starttls", "tls")
FEEDBACK_FIELDS = ("campaign", "list", "sender")
BROKERS = ("redis", "rediss", "amqp", "amqps", "pyamqp")


def _opt(default: Any, *, key: str | None = None, secret: bool = False) -> Any:
    return field(default=default, repr=not secret, metadata={"key": key, "secret": secret})


@dataclass(frozen=True)
class Settings:
    database_url: str = _opt("sqlite:///./mailer.db")
    smtp_host: str = _opt("localhost")
    smtp_port: int = _opt(25)
    smtp_security: str = _opt("auto")  # auto: STARTTLS whenever the server offers it
    smtp_username: str = _opt("")
    smtp_password: str = _opt("", secret=True)
    smtp_timeout: float = _opt(30.0)
    from_address: str = _opt("Newsletter <newsletter@localhost>", key="from")
    base_url: str = _opt("http://127.0.0.1:8000")
    web_host: str = _opt("127.0.0.1")
    web_port: int = _opt(8000)
    bounce_address: str = _opt("")
    secret_key: str = _opt("", secret=True)
    dkim_selector: str = _opt("")
    dkim_domain: str = _opt("")
    dkim_key_file: str = _opt("")
    dkim_ed25519_selector: str = _opt("")  # optional second signature, ed25519-sha256
    dkim_ed25519_key_file: str = _opt("")
    rate_limit: float = _opt(0.0)
    broker_url: str = _opt("", secret=True)  # redis:// or amqp://: deliver on Celery workers
    redis_url: str = _opt("", secret=True)  # rate limit, heartbeats (default: a redis broker)
    chunk_size: int = _opt(500)  # ledger rows per Celery task
    worker_metrics_port: int = _opt(9100)  # /metrics of `mailer worker`; 0: none
    log_format: str = _opt("text")  # text or json (one JSON object per line)
    log_level: str = _opt("INFO")
    organization: str = _opt("")
    postal_address: str = _opt("")
    timezone: str = _opt("UTC")  # for `send --at` without --tz
    workers: int = _opt(4)  # delivery threads, each with its own SMTP connection
    # Delivery processes, each with `workers` threads (so both cores work); 1 = one process.
    processes: int = _opt(os.cpu_count() or 1)
    messages_per_connection: int = _opt(100)
    retry_base_seconds: float = _opt(60.0)  # first retry after this; doubles each time
    retry_max_seconds: float = _opt(3600.0)
    retry_deadline_hours: float = _opt(72.0)  # deferred past this → failed
    send_grace_minutes: float = _opt(60.0)  # a start missed by more waits for `resume`
    # Circuit breaker: a campaign pauses itself when hard bounces, blocks and
    # errors exceed this share of its last `breaker_window` attempts (0 = off).
    breaker_share: float = _opt(0.05)
    breaker_window: int = _opt(200)
    bounce_mailbox: str = _opt("")  # Maildir folder, mbox file or imap(s)://user@host/BOX
    bounce_imap_password: str = _opt("", secret=True)
    bounce_poll_seconds: float = _opt(300.0)  # how often `mailer run` reads bounce_mailbox
    bounce_soft_threshold: int = _opt(5)  # soft-bounce points that suppress an address
    bounce_soft_reset_days: float = _opt(7.0)  # a quiet spell this long resets the points
    # Proxies whose X-Forwarded-For is believed (IPs/CIDRs, comma-separated); none by default.
    trusted_proxies: str = _opt("")

    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    ehlo_name: str = _opt("")  # empty: the machine's FQDN (socket.getfqdn())
    feedback_id: str = _opt("{campaign}:{list}:newsletter:{sender}")  # Gmail's Feedback-ID
    dns_resolver: str = _opt("")  # HOST[:PORT] for `mailer doctor`; empty: the system's

    def redacted(self) -> dict[str, Any]:
        """The settings with secrets masked, safe to print."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = "********" if f.metadata["secret"] and value else value
        return out


_URL_PASSWORD = re.compile(r"((?:^|://)[^/@:]*:)[^/]*@")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, even when it does not parse."""
    return _URL_PASSWORD.sub(r"\1***@", url)


def key_of(name: str) -> str:
    """The TOML key of a settings field (``from`` for ``from_address``)."""
    meta = {f.name: f.metadata for f in fields(Settings)}[name]
    return str(meta["key"] or name)


def env_of(name: str) -> str:
    return "MAILER_" + key_of(name).upper()


def _shown(name: str, raw: Any) -> str:
    """A value for an error message: a secret's value never, only its type."""
    secret = {f.name: f.metadata["secret"] for f in fields(Settings)}[name]
    if secret or name == "database_url":
        return f"{type(raw).__name__} (the value is not shown)"
    return repr(raw)


def _coerce(name: str, kind: Any, raw: Any, source: str, problems: list[str]) -> Any:
    try:
        if kind in ("int", int):
            if isinstance(raw, bool) or not str(raw).strip().lstrip("-").isdigit():
                raise ValueError(f"expected a whole number, got {_shown(name, raw)}")
            return int(raw)
        if kind in ("float", float):
            if isinstance(raw, bool):
                raise ValueError(f"expected a number, got {_shown(name, raw)}")
            return float(raw)
        if not isinstance(raw, str):
            raise ValueError(f"expected text, got {_shown(name, raw)}")
        return raw.strip()
    except ValueError as exc:
        problems.append(f"{source}: {exc}")
        return None


def _check(s: Settings, origin: Mapping[str, str], problems: list[str]) -> None:
    def bad(name: str, message: str) -> None:
        problems.append(f"{origin.get(name, 'default ' + name)}: {message}")

    for name in ("smtp_port", "web_port"):
        if not 1 <= getattr(s, name) <= 65535:
            bad(name, f"port {getattr(s, name)} is not between 1 and 65535")
    if s.smtp_security not in SECURITY:
        bad("smtp_security", f"{s.smtp_security!r} is not one of {', '.join(SECURITY)}")
    if s.rate_limit < 0:
        bad("rate_limit", "messages per second cannot be negative (0 means no limit)")
    if s.smtp_timeout <= 0:
        bad("smtp_timeout", "the timeout must be positive")
    _display, addr = parseaddr(s.from_address)
    if "@" not in addr:
        bad(
            "from_address",
            f"{s.from_address!r} is not an address such as 'LMEC <news@example.org>'",
        )
    parts = urlsplit(s.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        bad("base_url", f"{s.base_url!r} is not an http(s) URL")
    if "://" not in s.database_url:
        bad(
            "database_url",
            f"{redact_url(s.database_url)!r} is not a database URL such as sqlite:///mailer.db",
        )
    _check_scale(s, bad)
    for name in ("workers", "processes", "messages_per_connection"):
        if getattr(s, name) < 1:
            bad(name, "must be at least 1")
    for name in ("retry_base_seconds", "retry_max_seconds", "retry_deadline_hours"):
        if getattr(s, name) <= 0:
            bad(name, "must be positive")
    if s.bounce_address and "@" not in s.bounce_address:
        bad("bounce_address", f"{s.bounce_address!r} is not an address such as bounces@example.org")
    if s.bounce_soft_threshold < 1:
        bad("bounce_soft_threshold", "must be at least 1")
    if s.bounce_poll_seconds <= 0 or s.bounce_soft_reset_days <= 0:
        bad(
            "bounce_poll_seconds", "bounce_poll_seconds and bounce_soft_reset_days must be positive"
        )
    if not 0 <= s.breaker_share <= 1:
        bad("breaker_share", "must be between 0 and 1 (0.05 is 5 %; 0 turns the breaker off)")
    if s.breaker_window < 1:
        bad("breaker_window", "must be at least 1")
    if s.send_grace_minutes < 0:
        bad("send_grace_minutes", "cannot be negative")
    _check_deliverability(s, bad)
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        bad("timezone", f"{s.timezone!r} is not a time zone such as Asia/Shanghai")
    for proxy in s.trusted_proxy_list():
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            bad("trusted_proxies", f"{proxy!r} is not an IP address or network such as 10.0.0.0/8")
    rsa_key = [s.dkim_selector, s.dkim_key_file]
    if any(rsa_key) and not (all(rsa_key) and s.dkim_domain):
        bad("dkim_key_file", "DKIM needs all three of dkim_selector, dkim_domain and dkim_key_file")
    ed_key = [s.dkim_ed25519_selector, s.dkim_ed25519_key_file]
    if any(ed_key) and not (all(ed_key) and s.dkim_domain):
        bad("dkim_ed25519_key_file", "needs dkim_ed25519_selector and dkim_domain too")


def _check_deliverability(s: Settings, bad: Callable[[str, str], None]) -> None:
    try:
        s.feedback_id.format(**dict.fromkeys(FEEDBACK_FIELDS, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        bad(
            "feedback_id",
            f"{s.feedback_id!r} may use only {{campaign}}, {{list}}, {{sender}}: {exc}",
        )
    if any(c.isspace() for c in s.ehlo_name):
        bad("ehlo_name", f"{s.ehlo_name!r} is not a host name")
    if s.dns_resolver:
        try:
            dns_server(s.dns_resolver)
        except ValueError as exc:
            bad("dns_resolver", str(exc))


def dns_server(value: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (``[v6]:PORT`` too) → (host, port); port 53 by default."""
    host, port = value.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not a DNS server such as 127.0.0.1:5353")
    return host, int(port)


def _check_scale(s: Settings, bad: Any) -> None:
    """The Celery, metrics and logging settings."""
    if s.broker_url and urlsplit(s.broker_url).scheme not in BROKERS:
        bad("broker_url", "expected a redis://, rediss:// or amqp:// URL (RabbitMQ)")
    if s.redis_url and urlsplit(s.redis_url).scheme not in ("redis", "rediss"):
        bad("redis_url", "expected a redis:// or rediss:// URL")
    if s.broker_url.startswith("amqp") and not s.redis_url:
        bad("redis_url", "a RabbitMQ broker needs redis_url too (shared rate limit, heartbeats)")
    if s.chunk_size < 1:
        bad("chunk_size", "must be at least 1")
    if not 0 <= s.worker_metrics_port <= 65535:
        bad("worker_metrics_port", f"port {s.worker_metrics_port} is not between 0 and 65535")
    if s.log_format not in ("text", "json"):
        bad("log_format", f"{s.log_format!r} is not one of text, json")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        bad("log_level", f"{s.log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")


def coordination_url(s: Settings) -> str:
    """Where workers share the rate limit and heartbeats: redis_url, else a Redis broker."""
    if s.redis_url:
        return s.redis_url
    return s.broker_url if s.broker_url.startswith("redis") else ""


def load_settings(
    config: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then the config file, then MAILER_* variables; checked."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    specs = {f.name: f for f in fields(Settings)}
    by_key = {key_of(n): n for n in specs}

    path = (
        Path(config) if config else Path(env["MAILER_CONFIG"]) if env.get("MAILER_CONFIG") else None
    )
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError([f"{path}: no such configuration file"]) from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError([f"{path}: cannot be read: {exc}"]) from None
        for key, raw in data.items():
            if key not in by_key:
                problems.append(f"{path}: unknown setting {key!r}")
                continue
            name = by_key[key]
            origin[name] = f"{path}: {key}"
            values[name] = _coerce(name, specs[name].type, raw, origin[name], problems)

    for name in specs:
        var = env_of(name)
        if var in env:
            origin[name] = var
            values[name] = _coerce(name, specs[name].type, env[var], var, problems)
    if problems:
        raise SettingsError(problems)
    settings = replace(Settings(), **values)
    _check(settings, origin, problems)
    if problems:
        raise SettingsError(problems)
    return settings
