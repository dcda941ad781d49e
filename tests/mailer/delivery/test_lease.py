"""A batch that outlives its lease: nobody is sent twice.

A worker claims a batch under a lease (engine.LEASE, ten minutes) and sends it
at the pace the rate limit allows. Under a low limit (a provider's 100 an
hour) or a slow relay (a content filter's seconds per message), the end of a
128-row batch is reached after the lease ran out; meanwhile another worker,
idle, "recovers" the expired rows or claims them, and both send them. The
lease is scaled down here (1.5 s) with the pace (10 messages a second).
"""

import dataclasses
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from mailer.delivery import engine as engine_module
from mailer.delivery.engine import smtp_engine
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate
from tests.smtp_server import SmtpServer


def test_a_batch_slower_than_its_lease_sends_nobody_twice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "LEASE", timedelta(seconds=1.5))
    emails = populate(engine, 40)
    cid = new_campaign(engine)
    with SmtpServer(pipelining=True) as server:
        settings = dataclasses.replace(
            SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port, rate_limit=10.0
        )
        deliver = smtp_engine(engine, settings, workers=2)
        assert deliver.run(cid, threading.Event()) == "finished"
        got = Counter(m.rcpt for m in server.handler.messages)
    twice = sorted(e for e, n in got.items() if n > 1)
    assert twice == []
    assert got == Counter(emails)
    assert all(r.attempts == 1 for r in ledger(engine, cid))
