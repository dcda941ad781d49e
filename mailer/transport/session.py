"""Opening an SMTP session as configured: connect, EHLO, TLS, AUTH; replies made into failures.

Every failure while opening is the session's, never a recipient's (DESIGN.md,
"Who a failure belongs to"). TLS contexts are made once per process: loading
the CA store cost 10 % of a send (PERF-NOTES.md).
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from functools import cache

from mailer.settings import Settings
from mailer.transport.base import PermanentFailure, SessionFailure, TemporaryFailure
from mailer.transport.wire import data_payload


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    security: str = "auto"  # auto | none | starttls | tls
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None
    local_hostname: str | None = None
    max_messages: int = 100  # then QUIT and reconnect: servers limit messages per session


class FastSMTP(smtplib.SMTP):
    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        assert isinstance(msg, bytes)
        self.putcmd("data")
        code, repl = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, repl)
        self.send(data_payload(msg))
        code, msg_reply = self.getreply()
        return code, msg_reply


class FastSMTPSSL(smtplib.SMTP_SSL, FastSMTP):
    pass


def reply_text(text: bytes | str) -> str:
    """A server's reply as text we can store: it is outside input, and PostgreSQL
    refuses a NUL in a text column (the whole outcome's commit failed with it)."""
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return reply.replace("\x00", "\ufffd")


def failure_of(code: int, reply: bytes | str) -> TemporaryFailure | PermanentFailure:
    kind = PermanentFailure if 500 <= code < 600 else TemporaryFailure
    return kind(code, reply_text(reply))


def session_failure(code: int, what: str, reply: bytes | str) -> SessionFailure:
    """A refusal that is about us, not the recipient; a 4xx may pass."""
    text = f"{code} {reply_text(reply)}".strip()
    return SessionFailure(code, f"{what} ({text})", temporary=400 <= code < 500)


@cache
def default_ssl_context() -> ssl.SSLContext:
    """Made once per process: loading the CA store cost 10 % of a send (PERF-NOTES.md)."""
    return ssl.create_default_context()


def open_session(c: SmtpConfig) -> smtplib.SMTP:
    """Connect, say EHLO, TLS and AUTH as configured; every failure is the session's."""
    where = f"{c.host}:{c.port}"
    smtp: smtplib.SMTP | None = None
    step = "connect"
    try:
        if c.security == "tls":
            smtp = FastSMTPSSL(
                c.host,
                c.port,
                local_hostname=c.local_hostname,
                timeout=c.timeout,
                context=c.ssl_context or default_ssl_context(),
            )
        else:
            smtp = FastSMTP(c.host, c.port, local_hostname=c.local_hostname, timeout=c.timeout)
        step = "EHLO"
        code, reply = smtp.ehlo()
        if code != 250:
            raise smtplib.SMTPHeloError(code, reply)
        if c.security == "starttls" or (c.security == "auto" and smtp.has_extn("starttls")):
            step = "STARTTLS"
            smtp.starttls(
                context=_opportunistic(c)
                if c.security == "auto"
                else c.ssl_context or default_ssl_context()
            )
            step = "EHLO"
            smtp.ehlo()
        if c.username:
            step = "AUTH"
            smtp.login(c.username, c.password)
    except smtplib.SMTPAuthenticationError as exc:
        _close_quietly(smtp)
        raise session_failure(exc.smtp_code, "relay refused our login", exc.smtp_error) from None
    except smtplib.SMTPResponseException as exc:
        _close_quietly(smtp)
        what = "relay refused the connection" if step == "connect" else f"relay refused {step}"
        raise session_failure(exc.smtp_code, what, exc.smtp_error) from None
    except smtplib.SMTPNotSupportedError as exc:
        _close_quietly(smtp)
        raise SessionFailure(0, f"{step} at {where}: {exc}") from None
    except ssl.SSLError as exc:
        _close_quietly(smtp)
        raise SessionFailure(0, f"TLS with {where} failed: {exc}") from None
    except (OSError, smtplib.SMTPException) as exc:
        _close_quietly(smtp)
        kind = str(exc) or type(exc).__name__
        if isinstance(exc, socket.timeout):
            kind = "timed out"
        raise SessionFailure(
            0, f"cannot connect to {where} ({step}: {kind})", temporary=True
        ) from None
    return smtp


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


def _opportunistic(c: SmtpConfig) -> ssl.SSLContext:
    """``auto`` is Postfix's ``may``: encrypt whenever offered, without requiring a
    verifiable certificate (a relay's self-signed one must not stop the mail, which
    would otherwise have gone in clear)."""
    return c.ssl_context or _UNVERIFIED


_UNVERIFIED = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # made once: no CA store to load
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE


def ehlo_name(settings: Settings) -> str:
    return settings.ehlo_name or socket.getfqdn()


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout,
        max_messages=settings.messages_per_connection,
        local_hostname=ehlo_name(settings),
    )
