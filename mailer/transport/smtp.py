"""SMTP over smtplib, with PIPELINING, a cheaper DATA step and failures sorted by kind.

smtplib sends MAIL, RCPT and DATA one round trip each; when the server offers
PIPELINING (RFC 2920) the three go in one write, and the next message's three
(announced by the engine) go in the same write as this message's data, so a
message costs one round trip instead of four. smtplib's ``data()`` runs two
regular expressions over every message (0.4-0.7 ms on 60 KB, PERF-NOTES.md).
Our messages already have CRLF line ends, so dot-stuffing is one
``bytes.replace``.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from functools import cache

from mailer.settings import Settings
from mailer.transport.address import wire_address
from mailer.transport.base import (
    PermanentFailure,
    SendResult,
    SessionFailure,
    TemporaryFailure,
)


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


@dataclass(frozen=True)
class Envelope:
    """Wire addresses (see address.py) and whether the transaction needs SMTPUTF8."""

    sender: str
    recipient: str
    smtputf8: bool = False


def envelope_commands(e: Envelope) -> bytes:
    extra = " SMTPUTF8 BODY=8BITMIME" if e.smtputf8 else ""
    commands = f"MAIL FROM:<{e.sender}>{extra}\r\nRCPT TO:<{e.recipient}>\r\nDATA\r\n"
    return commands.encode("utf-8" if e.smtputf8 else "ascii")


def _envelope(envelope_from: str, recipient: str, smtputf8: bool) -> Envelope | None:
    """The envelope as it goes on the wire; None if an address holds a line break."""
    sender, rcpt = wire_address(envelope_from), wire_address(recipient)
    if any(c in a.address for a in (sender, rcpt) for c in "\r\n"):
        return None
    return Envelope(sender.address, rcpt.address, smtputf8 or sender.smtputf8 or rcpt.smtputf8)


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 4.5.2 transparency, for data with CRLF line ends."""
    if data.startswith(b"."):
        data = b"." + data
    # No `in` test first: it scans 60 KB as slowly as replace does (~50 us).
    return data.replace(b"\r\n.", b"\r\n..")


def data_payload(msg: bytes) -> bytes:
    """The message as it goes after a 354: dot-stuffed and ended by ``CRLF.CRLF``."""
    payload = dot_stuff(msg)
    return payload + (b".\r\n" if payload.endswith(b"\r\n") else b"\r\n.\r\n")


class _FastSMTP(smtplib.SMTP):
    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        assert isinstance(msg, bytes)
        self.putcmd("data")
        code, repl = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, repl)
        self.send(data_payload(msg))
        code, msg_reply = self.getreply()
        return code, msg_reply


class _FastSMTPSSL(smtplib.SMTP_SSL, _FastSMTP):
    pass


def _reply(text: bytes | str) -> str:
    """A server's reply as text we can store: it is outside input, and PostgreSQL
    refuses a NUL in a text column (the whole outcome's commit failed with it)."""
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return reply.replace("\x00", "\ufffd")


def _failure(code: int, reply: bytes | str) -> TemporaryFailure | PermanentFailure:
    kind = PermanentFailure if 500 <= code < 600 else TemporaryFailure
    return kind(code, _reply(reply))


def _session(code: int, what: str, reply: bytes | str) -> SessionFailure:
    """A refusal that is about us, not the recipient; a 4xx may pass."""
    text = f"{code} {_reply(reply)}".strip()
    return SessionFailure(code, f"{what} ({text})", temporary=400 <= code < 500)


@cache
def default_ssl_context() -> ssl.SSLContext:
    """Made once per process: loading the CA store cost 10 % of a send (PERF-NOTES.md)."""
    return ssl.create_default_context()


class SmtpConnection:
    """One SMTP session; sends many messages until closed or broken."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None
        self.sent = 0
        self._in_data = False  # the message text went out: a lost reply leaves it in doubt
        # The next message's envelope, announced by the engine: it rides in the
        # same write as this message's data (one round trip a message, not two).
        self._announced: Envelope | None = None
        # Its three replies, read with this message's; the next send uses them.
        self._early: tuple[Envelope, list[tuple[int, bytes]]] | None = None

    def announce(self, envelope_from: str, recipient: str, smtputf8: bool = False) -> None:
        """The next ``send`` will be to this envelope: pipeline it after the current data.

        Only the envelope goes early: nothing of the next message's text goes
        out before its own ``send``, so the rule that an outcome is recorded
        before the next message goes out still holds. An envelope that could
        not go in one write anyway (a line break, SMTPUTF8 not offered) is
        left to its own ``send`` to refuse.
        """
        self._announced = _envelope(envelope_from, recipient, smtputf8)

    def _open(self) -> smtplib.SMTP:
        """Connect, say EHLO, TLS and AUTH as configured; every failure is the session's."""
        c = self.config
        where = f"{c.host}:{c.port}"
        smtp: smtplib.SMTP | None = None
        step = "connect"
        try:
            if c.security == "tls":
                smtp = _FastSMTPSSL(
                    c.host,
                    c.port,
                    local_hostname=c.local_hostname,
                    timeout=c.timeout,
                    context=c.ssl_context or default_ssl_context(),
                )
            else:
                smtp = _FastSMTP(c.host, c.port, local_hostname=c.local_hostname, timeout=c.timeout)
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
            self._close_quietly(smtp)
            raise _session(exc.smtp_code, "relay refused our login", exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:
            self._close_quietly(smtp)
            what = "relay refused the connection" if step == "connect" else f"relay refused {step}"
            raise _session(exc.smtp_code, what, exc.smtp_error) from None
        except smtplib.SMTPNotSupportedError as exc:
            self._close_quietly(smtp)
            raise SessionFailure(0, f"{step} at {where}: {exc}") from None
        except ssl.SSLError as exc:
            self._close_quietly(smtp)
            raise SessionFailure(0, f"TLS with {where} failed: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            self._close_quietly(smtp)
            kind = str(exc) or type(exc).__name__
            if isinstance(exc, socket.timeout):
                kind = "timed out"
            raise SessionFailure(
                0, f"cannot connect to {where} ({step}: {kind})", temporary=True
            ) from None
        return smtp

    @staticmethod
    def _close_quietly(smtp: smtplib.SMTP | None) -> None:
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    @property
    def connected(self) -> bool:
        return self._smtp is not None

    takes_wire = True  # send() accepts the message already dot-stuffed (OutgoingMessage.wire)

    def send(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes,
        smtputf8: bool = False,
        wire: bytes | None = None,
    ) -> SendResult:
        """Deliver ``data``; ``wire``, if given, is ``data_payload(data)`` made ahead."""
        envelope = _envelope(envelope_from, recipient, smtputf8)
        if envelope is None:
            # It would end the command early and smuggle in one of its own.
            raise PermanentFailure(553, "the address contains a line break", from_server=False)
        if self._smtp is not None and self.sent >= self.config.max_messages:
            self.close()
        if self._smtp is None:
            self._smtp = self._open()
            self.sent = 0
        smtp = self._smtp
        smtputf8 = envelope.smtputf8
        self._in_data = False
        early = self._claim_early(envelope)
        nxt, self._announced = self._announced, None  # good for this send only
        if self._smtp is None:  # the early envelope could not be undone: a new session
            self._smtp = smtp = self._open()
            self.sent = 0
        try:
            options: list[str] = []
            if smtputf8:
                if not smtp.has_extn("smtputf8"):
                    raise PermanentFailure(
                        553,
                        "the address needs SMTPUTF8, which this server does not offer",
                        from_server=False,
                    )
                options = ["SMTPUTF8", "BODY=8BITMIME"]
            if smtp.has_extn("pipelining"):
                payload = wire if wire is not None else data_payload(data)
                code, reply = self._pipelined(smtp, envelope, payload, early, nxt)
            else:
                code, reply = self._stepwise(
                    smtp, envelope.sender, envelope.recipient, options, data
                )
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _failure(exc.smtp_code, exc.smtp_error) from None
        except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPException) as exc:
            # Timeouts, resets, a server that hung up: the outcome is unknown
            # once the data went out, so the message is retried later with
            # the same Message-ID (and marked in doubt).
            self._drop()
            kind = "timed out" if isinstance(exc, socket.timeout) else "connection lost"
            raise TemporaryFailure(0, f"{kind}: {exc}", uncertain=self._in_data) from None
        except (TemporaryFailure, PermanentFailure) as exc:
            if exc.code == 421:  # the server is closing this session
                self._drop()
            raise
        self.sent += 1
        return SendResult(code, _reply(reply))

    def _stepwise(
        self, smtp: smtplib.SMTP, sender: str, rcpt: str, options: list[str], data: bytes
    ) -> tuple[int, bytes]:
        """A round trip per command, for servers without PIPELINING."""
        code, reply = smtp.mail(sender, options)
        if code != 250:
            self._reset()
            if code == 421:
                self._drop()
            raise _session(code, "relay refused sender", reply)
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            self._reset()
            raise _failure(code, reply)
        self._in_data = True
        code, reply = smtp.data(data)
        if code != 250:
            raise _failure(code, reply)
        return code, reply

    def _pipelined(
        self,
        smtp: smtplib.SMTP,
        envelope: Envelope,
        payload: bytes,
        early: list[tuple[int, bytes]] | None = None,
        nxt: Envelope | None = None,
    ) -> tuple[int, bytes]:
        """RFC 2920: MAIL, RCPT and DATA in one write, then their three replies in order.

        Each reply is graded as if the commands had gone one by one: a refused
        MAIL is the session's (the RCPT and DATA replies that follow it only
        echo it), a refused RCPT is the recipient's, and DATA can still be
        refused on its own. ``payload``: the data as it goes after 354
        (``data_payload``). ``early``: the replies to this envelope, already
        read with the previous message's; ``nxt``: the envelope to send after
        this data, in the same write (see ``announce``).
        """
        if early is None:
            smtp.send(envelope_commands(envelope))
            early = [smtp.getreply(), smtp.getreply(), smtp.getreply()]
        mail, to, go = early
        if mail[0] != 250:
            self._abandon(go[0])
            if mail[0] == 421:
                self._drop()
            raise _session(mail[0], "relay refused sender", mail[1])
        if to[0] not in (250, 251):
            self._abandon(go[0])
            raise _failure(*to)
        if go[0] != 354:
            self._reset()
            raise _failure(*go)
        self._in_data = True
        if nxt is not None and (
            self.sent + 1 >= self.config.max_messages  # this session ends after this message
            or (nxt.smtputf8 and not smtp.has_extn("smtputf8"))
        ):
            nxt = None
        if nxt is not None:
            payload += envelope_commands(nxt)
        smtp.send(payload)
        code, reply = smtp.getreply()
        if nxt is not None:
            self._read_early(smtp, nxt, code)
        if code != 250:
            raise _failure(code, reply)
        return code, reply

    def _read_early(self, smtp: smtplib.SMTP, nxt: Envelope, code: int) -> None:
        """The next envelope's replies; a failure here is the next message's, not this one's."""
        if code == 421:
            self._drop()  # the server is closing: it will not answer the rest
            return
        try:
            self._early = (nxt, [smtp.getreply(), smtp.getreply(), smtp.getreply()])
        except (OSError, smtplib.SMTPException):
            self._drop()  # the next send opens a new session; this message's reply stands

    def _claim_early(self, envelope: Envelope) -> list[tuple[int, bytes]] | None:
        """The early replies if they are for ``envelope``; otherwise undo that envelope."""
        early, self._early = self._early, None
        if early is None or self._smtp is None:
            return None
        if early[0] == envelope:
            return early[1]
        self._abandon(early[1][2][0])  # announced, then not sent (a skip, a stop)
        return None

    def _abandon(self, data_code: int) -> None:
        """Undo a pipelined transaction whose envelope was refused.

        A server that answered DATA with 354 anyway now reads everything as
        message text: no RSET can reach it, so the session goes.
        """
        if data_code == 354:
            self._drop()
        else:
            self._reset()

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        self._early = self._announced = None
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        early, self._early, self._announced = self._early, None, None
        if early is not None and early[1][2][0] == 354:
            self._drop()  # the server waits for message text: no QUIT can reach it
            return
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
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
