"""The delivery engine against a real SMTP server on loopback that misbehaves."""

import dataclasses
import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine

from mailer.campaigns.report import report
from mailer.db import session_scope
from mailer.delivery.engine import RetryPolicy, smtp_engine
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate
from tests.smtp_server import SmtpServer


def test_faults_from_a_real_server(engine: Engine) -> None:
    populate(engine, 12)
    cid = new_campaign(engine)
    with SmtpServer(
        rcpt_rules={
            "u0@example.org": "550 5.1.1 User unknown",
            "u1@example.org": "452 4.2.2 Mailbox full",
            "u2@example.org": "421 4.7.0 Too many connections, closing",
        },
        data_rules={
            "u3@example.org": "554 5.7.1 Message rejected as spam",
            "u4@example.org": "451 4.3.0 Local error, try later",
        },
        drop_after_data={"u5@example.org"},
        times={"u1@example.org": 1, "u4@example.org": 1},  # these recover on the 2nd attempt
    ) as server:
        settings = dataclasses.replace(
            SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port, smtp_timeout=5
        )
        deliver = smtp_engine(engine, settings, workers=2)
        # Soft failures retry quickly here and give up after two seconds.
        deliver.retry = RetryPolicy(base=0.05, maximum=0.2, deadline=timedelta(seconds=2))
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
    rows = {f"u{r.subscriber_id - 1}@example.org": r for r in ledger(engine, cid)}
    assert rows["u0@example.org"].status == "failed" and rows["u0@example.org"].smtp_code == 550
    assert rows["u3@example.org"].status == "failed" and rows["u3@example.org"].smtp_code == 554
    assert rows["u1@example.org"].status == "sent" and rows["u1@example.org"].attempts >= 2
    assert rows["u4@example.org"].status == "sent" and rows["u4@example.org"].attempts >= 2
    assert rows["u2@example.org"].status == "failed"  # 421 every time until the deadline
    assert rows["u2@example.org"].smtp_reply.startswith("gave up after")
    # Dropped after DATA: received once, unknown to us, resent: a duplicate we admit to.
    assert rows["u5@example.org"].status == "sent" and rows["u5@example.org"].in_doubt
    assert got["u5@example.org"] == 2
    for i in range(6, 12):
        assert rows[f"u{i}@example.org"].status == "sent" and got[f"u{i}@example.org"] == 1
    with session_scope(engine) as s:
        found = report(s, cid)
    assert found.in_doubt_recipients == ["u5@example.org"]
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    assert duplicates <= found.in_doubt


def test_slow_server_times_out_and_is_retried(engine: Engine) -> None:
    populate(engine, 2)
    cid = new_campaign(engine)
    with SmtpServer(delay=1.5) as server:
        settings = dataclasses.replace(
            SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port, smtp_timeout=0.5
        )
        deliver = smtp_engine(engine, settings, workers=1)
        deliver.retry = RetryPolicy(base=0.05, maximum=0.1, deadline=timedelta(seconds=1))
        deliver.run(cid, threading.Event())
    rows = ledger(engine, cid)
    assert {r.status for r in rows} == {"failed"}
    assert all("timed out" in (r.smtp_reply or "") and r.in_doubt for r in rows)
