"""The SMTP relay: does it answer EHLO, offer STARTTLS, accept our AUTH? No mail is sent."""

from __future__ import annotations

import contextlib
import smtplib
import ssl

from mailer.doctor.config import is_loopback
from mailer.doctor.findings import Finding, Level
from mailer.settings import Settings
from mailer.transport.smtp import ehlo_name

TIMEOUT = 10.0


def check_relay(settings: Settings) -> list[Finding]:
    host, port, security = settings.smtp_host, settings.smtp_port, settings.smtp_security
    where = f"{host}:{port}"
    timeout = min(settings.smtp_timeout, TIMEOUT)
    context = ssl.create_default_context()
    try:
        if security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, local_hostname=ehlo_name(settings), timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(host, port, local_hostname=ehlo_name(settings), timeout=timeout)
    except (OSError, smtplib.SMTPException) as exc:
        return [
            Finding(
                "relay.connect",
                Level.ERROR,
                f"cannot reach the SMTP relay {where}: {exc}",
                "check smtp_host, smtp_port and smtp_security",
            )
        ]
    out: list[Finding] = []
    try:
        code, _ = smtp.ehlo()
        if code != 250:
            return [Finding("relay.ehlo", Level.ERROR, f"{where} answered EHLO with {code}")]
        out.append(Finding("relay.ehlo", Level.OK, f"{where} answers EHLO"))
        out += _tls(smtp, settings, where)
        out += _auth(smtp, settings, where)
    except (OSError, smtplib.SMTPException) as exc:
        out.append(Finding("relay.session", Level.ERROR, f"the session with {where} failed: {exc}"))
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.quit()
    return out


def _tls(smtp: smtplib.SMTP, settings: Settings, where: str) -> list[Finding]:
    security = settings.smtp_security
    if security == "tls":
        return [Finding("relay.tls", Level.OK, f"{where} is reached over TLS")]
    offered = smtp.has_extn("starttls")
    if security == "starttls" and not offered:
        return [
            Finding(
                "relay.tls",
                Level.ERROR,
                f"smtp_security is starttls but {where} does not offer STARTTLS",
                'set smtp_security = "auto", or use a relay that offers STARTTLS',
            )
        ]
    if offered and security == "none":
        # Probed as the transport sends: in clear.
        return [
            Finding(
                "relay.tls",
                Level.WARNING,
                f"{where} offers STARTTLS but smtp_security is none: mail goes in clear",
                'set smtp_security = "auto" (STARTTLS whenever offered)',
            )
        ]
    if offered:
        smtp.starttls(context=_context(security))
        smtp.ehlo()
        return [Finding("relay.tls", Level.OK, f"{where} offers STARTTLS; used")]
    if is_loopback(settings.smtp_host):
        return [Finding("relay.tls", Level.OK, f"{where} is on loopback: no TLS needed")]
    return [
        Finding(
            "relay.tls",
            Level.WARNING,
            f"{where} does not offer STARTTLS: mail and the password cross the network in clear",
            'use a relay that offers STARTTLS, or smtp_security = "tls" on port 465',
        )
    ]


def _context(security: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if security == "auto":  # opportunistic, as the transport does
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _auth(smtp: smtplib.SMTP, settings: Settings, where: str) -> list[Finding]:
    if not settings.smtp_username:
        return []
    if not smtp.has_extn("auth"):
        return [
            Finding(
                "relay.auth",
                Level.ERROR,
                f"smtp_username is set but {where} offers no AUTH (it may need STARTTLS first)",
                'set smtp_security = "auto" or "starttls"',
            )
        ]
    try:
        _login_once(smtp, settings.smtp_username, settings.smtp_password)
    except smtplib.SMTPAuthenticationError as exc:
        return [
            Finding(
                "relay.auth",
                Level.ERROR,
                f"{where} refused our AUTH as {settings.smtp_username}: {exc.smtp_code}",
                "check smtp_username and smtp_password",
            )
        ]
    except smtplib.SMTPException as exc:
        return [Finding("relay.auth", Level.ERROR, f"AUTH with {where} failed: {exc}")]
    return [Finding("relay.auth", Level.OK, f"{where} accepts our AUTH")]


def _login_once(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH with the best mechanism offered, once: smtplib's login() goes on to the next
    mechanism after a refusal, and some servers then wait for input that never comes."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in ("CRAM-MD5", "PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        raise smtplib.SMTPException(f"no AUTH mechanism we know among {offered}")
    smtp.user, smtp.password = user, password
    method = getattr(smtp, "auth_" + mechanism.lower().replace("-", "_"))
    code, reply = smtp.auth(mechanism, method, initial_response_ok=True)
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, reply)
