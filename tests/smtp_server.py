"""A real SMTP server on loopback (aiosmtpd) for tests, with fault injection.

Like Mailman's SMTP test layer: messages are kept in memory per recipient;
``rules`` map a recipient to the reply it gets (at RCPT or at DATA), and
``drop_after_data`` hangs up without answering the final dot. A relay that
refuses us: ``mail_rule`` answers every MAIL FROM, ``data_all`` every final
dot, and ``password`` makes the server require AUTH (a wrong one gets 535).
``pipelining`` offers RFC 2920 PIPELINING in EHLO (aiosmtpd reads commands
one line at a time, so pipelined ones simply queue); ``data_cmd_rule``
answers the DATA command itself (``354`` even with no valid recipient: a
broken relay); ``hangup_at`` ("MAIL", "RCPT" or "DATA") closes the connection
when that command arrives, once.
Each can be changed while the server runs ("the relay was fixed").
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt: str
    data: bytes
    options: list[str]


@dataclass
class Handler:
    messages: list[Received] = field(default_factory=list)
    rcpt_rules: dict[str, str] = field(default_factory=dict)
    data_rules: dict[str, str] = field(default_factory=dict)
    drop_after_data: set[str] = field(default_factory=set)
    delay: float = 0.0
    # Apply a recipient's rule this many times only, then accept (a server recovering).
    times: dict[str, int] = field(default_factory=dict)
    mail_rule: str | None = None
    data_all: str | None = None
    password: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    refused_mail: int = 0
    pipelining: bool = False
    data_cmd_rule: str | None = None
    hangup_at: str | None = None
    # Set: each DATA reply waits (up to 5 s) until the event is set, then 250;
    # never set, the reply is a 451.
    hold_data: threading.Event | None = None

    def hangup(self, server: SMTP, command: str) -> bool:
        if self.hangup_at != command:
            return False
        self.hangup_at = None
        server.transport.close()
        return True

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.password is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.hangup(server, "MAIL"):
            return "421 closing"
        if self.mail_rule:
            with self.lock:
                self.refused_mail += 1
            return self.mail_rule
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)

    ehlo_names: list[str] = field(default_factory=list)
    tls_messages: int = 0  # messages that arrived over STARTTLS

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        with self.lock:
            self.connections += 1
            self.ehlo_names.append(hostname)
        session.host_name = hostname
        if self.pipelining:  # before the last line, "250 HELP"
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.hangup(server, "RCPT"):
            return "421 closing"
        rule = self._rule(self.rcpt_rules, address.lower())
        if rule:
            return rule
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold_data is not None:
            released = await asyncio.get_running_loop().run_in_executor(
                None, self.hold_data.wait, 5
            )
            if not released:
                return "451 4.3.0 held data never released"
        rcpt = envelope.rcpt_tos[0].lower()
        if rcpt in self.drop_after_data:
            self.drop_after_data.discard(rcpt)
            with self.lock:  # received, but the client never hears so
                self.messages.append(
                    Received(
                        str(envelope.mail_from),
                        rcpt,
                        bytes(envelope.original_content or b""),
                        list(envelope.mail_options),
                    )
                )
            server.transport.close()
            return "421 closing"
        rule = self._rule(self.data_rules, rcpt) or self.data_all
        if rule:
            return rule
        with self.lock:
            self.tls_messages += session.ssl is not None
            for to in envelope.rcpt_tos:
                self.messages.append(
                    Received(
                        str(envelope.mail_from),
                        to.lower(),
                        bytes(envelope.original_content or b""),
                        list(envelope.mail_options),
                    )
                )
        return "250 Message accepted"

    def _rule(self, rules: dict[str, str], address: str) -> str | None:
        rule = rules.get(address)
        if rule is None:
            return None
        with self.lock:
            if address in self.times:
                if self.times[address] <= 0:
                    return None
                self.times[address] -= 1
        return rule

    def by_recipient(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = defaultdict(list)
        with self.lock:
            for m in self.messages:
                out[m.rcpt].append(m)
        return out


class _Server(SMTP):
    """aiosmtpd's server with a say in the DATA command itself (no handler hook for it)."""

    async def smtp_DATA(self, arg: str) -> None:
        handler: Handler = self.event_handler
        if handler.hangup(self, "DATA"):
            return
        if handler.data_cmd_rule:
            await self.push(handler.data_cmd_rule)
            return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    def __init__(
        self,
        smtputf8: bool = True,
        tls_context: ssl.SSLContext | None = None,
        authenticator: Any = None,
        **handler_args: Any,
    ) -> None:
        self.handler = Handler(**handler_args)
        self.port = free_port()
        self.controller = _Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            enable_SMTPUTF8=smtputf8,
            decode_data=False,
            tls_context=tls_context,  # offers STARTTLS when given
            # offers AUTH when given, or when the handler has a password
            authenticator=authenticator
            or (self.handler.authenticate if self.handler.password is not None else None),
            auth_require_tls=False,
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate (for STARTTLS tests)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context
