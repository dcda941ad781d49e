"""A small SMTP server that stores what it receives in a Maildir (aiosmtpd).

For `mailer demo` and for trying mailer without a real mail server: nothing
leaves the machine. It offers SMTPUTF8 and listens on loopback only.
"""

from __future__ import annotations

import mailbox
import socket
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _MaildirHandler:
    def __init__(self, path: Path) -> None:
        self.maildir = mailbox.Maildir(str(path), create=True)
        self.lock = threading.Lock()
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or b""
        header = f"Return-Path: <{envelope.mail_from}>\r\n".encode()
        with self.lock:
            self.maildir.add(header + data)
            self.count += len(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class MaildirServer:
    """``with MaildirServer(path) as server: … server.port …``"""

    def __init__(self, path: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.path = path
        self.host = host
        self.port = port or free_port(host)
        self.handler = _MaildirHandler(path)
        self._controller = Controller(
            self.handler, hostname=host, port=self.port, enable_SMTPUTF8=True, decode_data=False
        )

    @property
    def received(self) -> int:
        return self.handler.count

    def __enter__(self) -> MaildirServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
