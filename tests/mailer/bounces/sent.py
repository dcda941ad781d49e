"""A campaign really sent through SMTP, and what each recipient got: the VERP
return path, the Message-ID and the List-Unsubscribe mailto that bounce
reports and unsubscribe mails refer to."""

from __future__ import annotations

import dataclasses
import email
import mailbox
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from mailer.delivery.engine import smtp_engine
from tests.mailer.sending import SETTINGS, new_campaign, populate
from tests.smtp_server import SmtpServer

BOUNCES = "bounces@example.org"
S = dataclasses.replace(SETTINGS, bounce_address=BOUNCES)


@dataclass(frozen=True)
class Sent:
    campaign_id: int
    verp: dict[int, str]  # u<i> → the return path of the message u<i> got
    message_id: dict[int, str]
    mailto: dict[int, str]  # the address in List-Unsubscribe's mailto:


def send_campaign(engine: Engine, n: int, populated: bool = False) -> Sent:
    """Send the example issue to u0…u{n-1} through a real SMTP server."""
    if not populated:
        populate(engine, n)
    cid = new_campaign(engine)
    with SmtpServer() as server:
        settings = dataclasses.replace(S, smtp_host="127.0.0.1", smtp_port=server.port)
        assert smtp_engine(engine, settings).run(cid, threading.Event()) == "finished"
        got = {m.rcpt: m for m in server.handler.messages}
    verp, mid, mailto = {}, {}, {}
    for i in range(n):
        m = got[f"u{i}@example.org"]
        msg = email.message_from_bytes(m.data)
        verp[i], mid[i] = m.mail_from, str(msg["Message-ID"])
        unsubscribe = str(msg["List-Unsubscribe"]).split(",")[-1].strip(" <>\r\n\t")
        mailto[i] = unsubscribe.removeprefix("mailto:").split("?")[0]
    assert all(v.startswith("bounces+") for v in verp.values())
    return Sent(cid, verp, mid, mailto)


def write_maildir(path: Path, messages: list[bytes]) -> Path:
    """A Maildir whose keys sort in the order given (as a reader lists them)."""
    mailbox.Maildir(str(path), create=True)
    for i, m in enumerate(messages):
        (path / "new" / f"{1_800_000_000 + i}.M{i:06d}P1Q{i}.test").write_bytes(m)
    return path
