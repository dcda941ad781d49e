"""A chunk: the engine limited to its quota and to rows due now; stops on pause."""

from __future__ import annotations

import dataclasses
import threading

from sqlalchemy import Engine, update

from mailer.campaigns.models import Delivery, DeliveryStatus
from mailer.campaigns.service import pause
from mailer.db import session_scope
from mailer.workers.chunk import run_chunk
from subscribers.models import utcnow
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate
from tests.smtp_server import SmtpServer
from tests.waiting import wait_for


def settings_for(server: SmtpServer) -> object:
    return dataclasses.replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=server.port)


def test_a_chunk_sends_its_quota_and_leaves_the_rest(engine: Engine) -> None:
    populate(engine, 25)
    cid = new_campaign(engine)
    with SmtpServer() as server:
        result = run_chunk(engine, settings_for(server), cid, 10, None)  # type: ignore[arg-type]
        assert result.sent_or_tried == 10 and len(server.handler.messages) == 10
        assert result.status == "sending"
        statuses = [d.status for d in ledger(engine, cid)]
        assert statuses.count("sent") == 10 and statuses.count("queued") == 15
        # Run twice, or more: the ledger decides, nobody gets two copies.
        for _ in range(3):
            run_chunk(engine, settings_for(server), cid, 10, None)  # type: ignore[arg-type]
        assert len(server.handler.messages) == 25
        assert len({m.rcpt for m in server.handler.messages}) == 25
        assert {d.status for d in ledger(engine, cid)} == {"sent"}
        assert run_chunk(engine, settings_for(server), cid, 10, None).status == "finished"  # type: ignore[arg-type]


def test_a_chunk_does_not_wait_for_retries_due_later(engine: Engine) -> None:
    populate(engine, 3)
    cid = new_campaign(engine)
    later = utcnow().replace(year=utcnow().year + 1)
    with session_scope(engine) as s:
        s.execute(
            update(Delivery)
            .where(Delivery.campaign_id == cid)
            .values(status=DeliveryStatus.DEFERRED, next_attempt_at=later)
        )
    with SmtpServer() as server:
        result = run_chunk(engine, settings_for(server), cid, 10, None)  # type: ignore[arg-type]
    assert result.sent_or_tried == 0 and result.status == "sending"


def test_pause_stops_a_running_chunk_between_messages(engine: Engine) -> None:
    populate(engine, 40)
    cid = new_campaign(engine)
    with SmtpServer(delay=0.05) as server:
        done: list[object] = []
        t = threading.Thread(
            target=lambda: done.append(run_chunk(engine, settings_for(server), cid, 40, None))  # type: ignore[arg-type]
        )
        t.start()
        assert wait_for(lambda: len(server.handler.messages) >= 3)
        with session_scope(engine) as s:
            pause(s, cid)
        t.join(10)
        assert not t.is_alive()
    rows = ledger(engine, cid)
    assert len(server.handler.messages) < 40
    assert [r for r in rows if r.status == "sending"] == []
    assert sum(r.status == "sent" for r in rows) == len(server.handler.messages)
