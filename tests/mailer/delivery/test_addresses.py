"""Internationalized addresses on the wire: A-label domains, SMTPUTF8 only when needed."""

import dataclasses
import email
import email.policy
import threading
from collections import Counter

from sqlalchemy import Engine

from mailer.db import session_scope
from mailer.delivery.engine import smtp_engine
from subscribers.lists import create_list
from subscribers.members import add_subscriber
from tests.mailer.sending import SETTINGS, ledger, new_campaign
from tests.smtp_server import SmtpServer

IDN = "muller@bücher.example"
IDN_WIRE = "muller@xn--bcher-kva.example"


def people(engine: Engine, *middle: str) -> list[str]:
    """50 plain addresses, then ``middle``, then more plain ones: 100 in all."""
    emails = [f"u{i}@example.org" for i in range(50)]
    emails += list(middle)
    emails += [f"u{i}@example.org" for i in range(50, 100 - len(middle))]
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter")
        for address in emails:
            add_subscriber(s, address, "lmec-news", confirmed=True, name="Jörg Müller")
    return emails


def send(engine: Engine, server: SmtpServer) -> str:
    settings = dataclasses.replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port)
    return smtp_engine(engine, settings, workers=3).run(new_campaign(engine), threading.Event())


def test_idn_subscriber_in_the_middle_of_a_hundred(engine: Engine) -> None:
    people(engine, IDN)
    with SmtpServer(smtputf8=False) as server:
        assert send(engine, server) == "finished"
        got = server.handler.by_recipient()
    assert len(got) == 100 and all(len(v) == 1 for v in got.values())
    assert IDN_WIRE in got and IDN not in got
    received = got[IDN_WIRE][0]
    assert received.mail_from.isascii() and "SMTPUTF8" not in received.options
    message = email.message_from_bytes(received.data, policy=email.policy.SMTP)
    assert message["To"].addresses[0].addr_spec == IDN_WIRE
    assert received.data.isascii()
    assert {r.status for r in ledger(engine, 1)} == {"sent"}


def test_non_ascii_local_part_needs_smtputf8_and_fails_alone_without_it(engine: Engine) -> None:
    utf8 = "李伟@例子.example"
    people(engine, utf8)
    with SmtpServer(smtputf8=False) as server:
        assert send(engine, server) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
    assert len(got) == 99 and set(got.values()) == {1}
    rows = [r for r in ledger(engine, 1) if r.status != "sent"]
    assert len(rows) == 1 and rows[0].status == "failed" and rows[0].failure == "fail"
    assert "needs SMTPUTF8" in (rows[0].smtp_reply or "")


def test_non_ascii_local_part_goes_out_with_smtputf8_when_offered(engine: Engine) -> None:
    utf8 = "李伟@例子.example"
    people(engine, utf8)
    with SmtpServer(smtputf8=True) as server:
        assert send(engine, server) == "finished"
        got = server.handler.by_recipient()
    wire = "李伟@xn--fsqu00a.example"  # the envelope domain is an A-label even so
    assert len(got) == 100 and wire in got
    assert "SMTPUTF8" in [o.upper() for o in got[wire][0].options]
    assert "SMTPUTF8" not in [o.upper() for o in got["u0@example.org"][0].options]
