"""Run every check and gather the report; the gate `send` and campaign starts pass through."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from mailer.doctor.config import check_settings, is_loopback
from mailer.doctor.domain import check_bounce_mx, check_dkim, check_dmarc
from mailer.doctor.findings import Finding, Level, Report
from mailer.doctor.records import Dns, LookupFailed
from mailer.doctor.relay import check_relay
from mailer.doctor.spf_check import check_spf
from mailer.settings import Settings


def is_local_setup(settings: Settings) -> bool:
    """A base_url on loopback: the demo, the tests, a developer's machine."""
    return is_loopback(urlsplit(settings.base_url).hostname or "")


def diagnose(settings: Settings, resolver: str | None = None, *, network: bool = True) -> Report:
    """All findings; ``resolver`` (HOST:PORT) overrides MAILER_DNS_RESOLVER.

    Without ``network`` only the settings are checked (no DNS, no SMTP).
    """
    findings = check_settings(settings)
    if network:
        dns = Dns.make(resolver or settings.dns_resolver)
        checks: list[tuple[str, Callable[[], list[Finding]]]] = [
            ("dkim", lambda: check_dkim(settings, dns)),
            ("spf", lambda: check_spf(settings, dns)),
            ("dmarc", lambda: check_dmarc(settings, dns)),
            ("bounce.mx", lambda: check_bounce_mx(settings, dns)),
        ]
        for name, check in checks:
            try:
                findings += check()
            except LookupFailed as exc:
                # One silent server would time out every later look-up as well.
                skipped = ", ".join(n for n, _ in checks[checks.index((name, check)) + 1 :])
                findings.append(
                    Finding(
                        "dns",
                        Level.ERROR,
                        f"the DNS server did not answer ({exc}); not checked: {name}"
                        + (f", {skipped}" if skipped else ""),
                        "check dns_resolver (MAILER_DNS_RESOLVER) or --resolver HOST:PORT",
                    )
                )
                break
        findings += check_relay(settings)
    return Report.of(findings, is_local_setup(settings))


def gate(settings: Settings, force: bool) -> tuple[Report, str | None]:
    """(the report, the refusal) before a send or a campaign start.

    A local test set-up checks only its settings (no DNS or SMTP probe: the
    demo and the tests must not wait on a resolver) and is never refused;
    ``force`` sends anyway, and the caller records the errors it overrode.
    """
    local = is_local_setup(settings)
    report = diagnose(settings, network=not local)
    if force or local:
        return report, None
    return report, report.refusal()
