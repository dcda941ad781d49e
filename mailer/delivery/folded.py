"""One round trip per message on PostgreSQL: the outcome and the next row in one statement.

Per message the store used to pay ``SET LOCAL synchronous_commit = off``,
the outcome's UPDATE, the next row's UPDATE and COMMIT, plus the pool's ping
on checkout: round trips that cost ~35 % of the rate on PostgreSQL.
Here a batch holds one autocommit connection, and each message is a single
statement — data-modifying CTEs for the outcome and the next row, and
``set_config(..., is_local => true)`` for the commit mode — which PostgreSQL
runs and commits as one transaction. The durability rule is unchanged: the
previous outcome is committed in the same transaction that marks the next
row ``sending``, before that message goes out.

Outcomes that record bounces, or several outcomes at once (skipped rows),
take the store's ordinary path; so does SQLite, whose writes queue on a
process lock (store.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, text

from mailer.campaigns.models import Delivery
from mailer.delivery.outcomes import Outcome
from mailer.delivery.recording import outcome_params
from mailer.delivery.store import DeliveryStore

_CONFIG = "config AS (SELECT set_config('synchronous_commit', 'off', true) AS v)"
_OUTCOME = """outcome AS (
    UPDATE deliveries SET status = :status, smtp_code = :code, smtp_reply = :reply,
        failure = :failure, message_id = coalesce(:mid, message_id),
        next_attempt_at = :nxt, sent_at = :sent, lease_owner = NULL, lease_until = NULL,
        in_doubt = in_doubt OR :doubt, updated_at = :now
    WHERE id = :oid RETURNING id)"""
_MARK = """marked AS (
    UPDATE deliveries SET status = 'sending', attempts = attempts + 1, updated_at = :now
    WHERE id = :next_id
      AND EXISTS (SELECT 1 FROM campaigns WHERE id = :cid AND status = 'sending')
    RETURNING id)"""


def _statement(with_outcome: bool, with_next: bool) -> TextClause:
    """Plain SQL: SQLAlchemy's statement cache mixes up bound values of DML CTEs."""
    ctes = [_CONFIG, *([_OUTCOME] if with_outcome else []), *([_MARK] if with_next else [])]
    marked = "(SELECT count(*) FROM marked)" if with_next else "0"
    sql = f"WITH {', '.join(ctes)} SELECT (SELECT v FROM config) AS config, {marked} AS marked"
    types = {"now": Delivery.updated_at.type, "nxt": Delivery.next_attempt_at.type}
    types["sent"] = Delivery.sent_at.type
    return text(sql).bindparams(
        *(bindparam(name, type_=t) for name, t in types.items() if f":{name}" in sql)
    )


class Recorder:
    """The store's ``advance`` for one batch, over one connection where that saves trips."""

    def __init__(self, store: DeliveryStore, conn: Connection | None) -> None:
        self.store = store
        self.conn = conn
        self._statements: dict[tuple[bool, bool], TextClause] = {}

    def advance(
        self, campaign_id: int, outcomes: Sequence[Outcome], next_id: int | None, now: datetime
    ) -> bool:
        """As ``DeliveryStore.advance``: record ``outcomes``, mark ``next_id`` on the wire."""
        if self.conn is None or len(outcomes) > 1 or any(o.bounce for o in outcomes):
            return self.store.advance(campaign_id, outcomes, next_id, now)
        key = (bool(outcomes), next_id is not None)
        if key not in self._statements:
            self._statements[key] = _statement(*key)
        params: dict[str, Any] = {"now": now, "cid": campaign_id, "next_id": next_id}
        if outcomes:
            params.update(outcome_params(outcomes[0], now))
        row = self.conn.execute(self._statements[key], params).one()
        self.store.recorded(campaign_id, outcomes)
        return next_id is None or bool(row.marked)


@contextmanager
def recorder(store: DeliveryStore) -> Iterator[Recorder]:
    """A Recorder for one batch: on PostgreSQL it holds an autocommit connection."""
    if not store.postgres:
        yield Recorder(store, None)
        return
    with store.engine.connect() as conn:
        yield Recorder(store, conn.execution_options(isolation_level="AUTOCOMMIT"))
