"""One SMTP session that sends many messages: PIPELINING, one round trip a message.

smtplib sends MAIL, RCPT and DATA one round trip each; when the server offers
PIPELINING (RFC 2920) the three go in one write, and the next message's three
(announced by the engine) go in the same write as this message's data, so a
message costs one round trip instead of four. Opening the session is
session.py's; the bytes on the wire are wire.py's.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
from collections.abc import Callable

from mailer.transport.base import (
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from mailer.transport.session import (
    SmtpConfig,
    default_ssl_context,
    ehlo_name,
    failure_of,
    open_session,
    reply_text,
    session_failure,
    smtp_config,
)
from mailer.transport.wire import (
    Envelope,
    data_payload,
    dot_stuff,
    envelope_commands,
    wire_envelope,
)

log = logging.getLogger(__name__)

__all__ = [
    "Envelope",
    "SmtpConfig",
    "SmtpConnection",
    "data_payload",
    "default_ssl_context",
    "dot_stuff",
    "ehlo_name",
    "smtp_config",
]


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
        self._announced = wire_envelope(envelope_from, recipient, smtputf8)

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
        meanwhile: Callable[[], None] | None = None,
    ) -> SendResult:
        """Deliver ``data``; ``wire``, if given, is ``data_payload(data)`` made ahead.

        ``meanwhile`` is called at most once, after the data went out and
        before its reply is read: the engine builds the next message while
        the relay takes this one (otherwise both would wait for each other).
        It must not raise; if it does, the error is logged and the send goes on.
        """
        envelope = wire_envelope(envelope_from, recipient, smtputf8)
        if envelope is None:
            # It would end the command early and smuggle in one of its own.
            raise PermanentFailure(553, "the address contains a line break", from_server=False)
        if self._smtp is not None and self.sent >= self.config.max_messages:
            self.close()
        if self._smtp is None:
            self._smtp = open_session(self.config)
            self.sent = 0
        smtp = self._smtp
        smtputf8 = envelope.smtputf8
        self._in_data = False
        early = self._claim_early(envelope)
        nxt, self._announced = self._announced, None  # good for this send only
        if self._smtp is None:  # the early envelope could not be undone: a new session
            self._smtp = smtp = open_session(self.config)
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
                code, reply = self._pipelined(smtp, envelope, payload, early, nxt, meanwhile)
            else:
                code, reply = self._stepwise(
                    smtp, envelope.sender, envelope.recipient, options, data
                )
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise failure_of(exc.smtp_code, exc.smtp_error) from None
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
        return SendResult(code, reply_text(reply))

    def _stepwise(
        self, smtp: smtplib.SMTP, sender: str, rcpt: str, options: list[str], data: bytes
    ) -> tuple[int, bytes]:
        """A round trip per command, for servers without PIPELINING."""
        code, reply = smtp.mail(sender, options)
        if code != 250:
            self._reset()
            if code == 421:
                self._drop()
            raise session_failure(code, "relay refused sender", reply)
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            self._reset()
            raise failure_of(code, reply)
        self._in_data = True
        code, reply = smtp.data(data)
        if code != 250:
            raise failure_of(code, reply)
        return code, reply

    def _pipelined(
        self,
        smtp: smtplib.SMTP,
        envelope: Envelope,
        payload: bytes,
        early: list[tuple[int, bytes]] | None = None,
        nxt: Envelope | None = None,
        meanwhile: Callable[[], None] | None = None,
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
            raise session_failure(mail[0], "relay refused sender", mail[1])
        if to[0] not in (250, 251):
            self._abandon(go[0])
            raise failure_of(*to)
        if go[0] != 354:
            self._reset()
            raise failure_of(*go)
        self._in_data = True
        if nxt is not None and (
            self.sent + 1 >= self.config.max_messages  # this session ends after this message
            or (nxt.smtputf8 and not smtp.has_extn("smtputf8"))
        ):
            nxt = None
        if nxt is not None:
            payload += envelope_commands(nxt)
        smtp.send(payload)
        if meanwhile is not None:
            _call_safely(meanwhile)
        code, reply = smtp.getreply()
        if nxt is not None:
            self._read_early(smtp, nxt, code)
        if code != 250:
            raise failure_of(code, reply)
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


def _call_safely(meanwhile: Callable[[], None]) -> None:
    """A failure of the caller's own work must not pass for this message's:
    the data is out, and only its reply says what became of it."""
    try:
        meanwhile()
    except Exception:
        log.exception("work done while waiting for the relay failed")
