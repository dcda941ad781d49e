"""The claim on SQLite in plain DBAPI calls: due rows leased, read with their subscribers.

A claim is one transaction per batch, but the rows it reads cost Python per
row: through SQLAlchemy (statement caching, row processing, the UTC type) a
fifth of a delivery process's time under the GIL went to claims. Here it is
three statements on sqlitefast's connection, with the values converted as
SQLAlchemy reads them back. The statements are those of claims.py
(due_rows, claim_in_session); tests/mailer/delivery/test_sqliteclaim.py claims
the same rows both ways and compares the results and the rows left behind.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from mailer.campaigns.models import CampaignStatus, DeliveryStatus
from mailer.delivery.claimed import Claimed, attributes_of
from mailer.delivery.sqlitefast import stored_time

_QUEUED, _DEFERRED = DeliveryStatus.QUEUED.value, DeliveryStatus.DEFERRED.value
_SENDING = CampaignStatus.SENDING.value
_DUE = (
    "SELECT id FROM deliveries"
    f" WHERE campaign_id = ? AND status IN ('{_QUEUED}', '{_DEFERRED}')"
    " AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
    f" AND EXISTS (SELECT 1 FROM campaigns WHERE id = ? AND status = '{_SENDING}')"
    # The claim index's own order (see claims.due_rows).
    " ORDER BY status, next_attempt_at, id LIMIT ?"
)
_LEASE = "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id IN ({ids})"
_ROWS = (
    "SELECT d.id, d.subscriber_id, d.language, d.attempts, d.created_at, d.status,"
    " s.email, s.name, s.attributes, s.email_hash, sub.status, s.link_key,"
    " EXISTS (SELECT 1 FROM suppressions WHERE suppressions.email_hash = s.email_hash)"
    " FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id"
    " LEFT OUTER JOIN subscribers s ON s.id = d.subscriber_id"
    " LEFT OUTER JOIN subscriptions sub"
    " ON sub.subscriber_id = s.id AND sub.list_id = c.list_id"
    " WHERE d.id IN ({ids}) ORDER BY d.id"
)


def read_time(text: str) -> datetime:
    """A UTCDateTime as stored (naive UTC text), read back aware, as SQLAlchemy does:
    a time stored with its offset (written by other means) is converted to UTC."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def claim_rows(
    conn: sqlite3.Connection,
    campaign_id: int,
    owner: str,
    limit: int,
    now: datetime,
    until: datetime,
) -> list[Claimed]:
    """Lease up to ``limit`` due rows to ``owner`` until ``until``; inside the caller's
    write transaction (BEGIN IMMEDIATE: nobody else reads the same due rows)."""
    at = stored_time(now)
    ids = [r[0] for r in conn.execute(_DUE, (campaign_id, at, at, campaign_id, limit))]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    conn.execute(_LEASE.format(ids=marks), (owner, stored_time(until), *ids))
    return [_claimed(r) for r in conn.execute(_ROWS.format(ids=marks), ids)]


def _claimed(r: tuple[Any, ...]) -> Claimed:
    (rid, sid, language, attempts, created, status, email, name, attrs, ehash, sub, key, supp) = r
    return Claimed(
        rid,
        sid,
        language,
        attempts,
        read_time(created),
        email,
        name or "",
        attributes_of(attrs),
        ehash,
        sub,
        bool(supp),
        status,
        key,
    )
