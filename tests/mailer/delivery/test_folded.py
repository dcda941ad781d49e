"""On PostgreSQL each message costs one statement; outcomes still land before the next send."""

import threading
from typing import Any

from sqlalchemy import Engine, event, select

from mailer.campaigns.models import Delivery
from mailer.delivery.engine import DeliveryEngine
from mailer.transport import SendResult
from mailer.transport.memory import MemoryTransport
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate

N = 64


class Watching(MemoryTransport):
    """Checks, as each message goes out, that the one before it is already committed."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.unrecorded: list[str] = []
        self.checking = False  # our own query is not the engine's

    def send(
        self, envelope_from: str, recipient: str, data: bytes, smtputf8: bool = False
    ) -> SendResult:
        if self.sent:
            before = self.sent[-1].recipient
            self.checking = True
            with self.engine.connect() as conn:  # another connection: sees commits only
                statuses = conn.scalars(select(Delivery.status)).all()
            self.checking = False
            if statuses.count("sent") < len(self.sent):
                self.unrecorded.append(before)
        return super().send(envelope_from, recipient, data, smtputf8)


def test_one_statement_per_message_and_each_outcome_committed_before_the_next(
    engine: Engine,
) -> None:
    populate(engine, N)
    cid = new_campaign(engine)
    statements: list[str] = []
    transport = Watching(engine)

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name.startswith("deliver-") and not transport.checking:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    delivery = DeliveryEngine(
        engine, SETTINGS, lambda: transport, envelope_from="b@example.org", workers=1
    )
    try:
        assert delivery.run(cid, threading.Event()) == "finished"
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert {r.status for r in ledger(engine, cid)} == {"sent"}
    assert transport.unrecorded == []
    per_message = len(statements) / N
    if engine.dialect.name == "postgresql":
        # Claims and the end of each batch of 32 add a few; 4+ per message before.
        assert per_message < 1.5, statements[:12]
        assert sum("set_config" in s for s in statements) >= N
