"""The hot transaction on SQLite in plain DBAPI calls: outcomes in, next rows marked.

Every message sent costs one of these (shared by the connections waiting,
group.py), and it runs while every other delivery writer of the machine
waits its turn (writelock.py). Through SQLAlchemy Core it took four times as
long in Python as in SQLite — compiling, caching and type processing per
call — and the GIL stretched it further whenever another thread was busy.
Here it is two prepared statements on a connection of its own, with the
values converted as SQLAlchemy stores them (UTCDateTime: naive UTC text).
tests/mailer/delivery/test_sqlitefast.py writes the same outcomes both ways
and compares the rows.

Outcomes that record a bounce take the SQLAlchemy path (recording.py): they
are rare and touch other tables.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from mailer.campaigns.models import CampaignStatus, DeliveryStatus
from mailer.delivery.outcomes import Outcome

_OUTCOME = (
    "UPDATE deliveries SET status = ?, smtp_code = ?, smtp_reply = ?, failure = ?,"
    " message_id = coalesce(?, message_id), next_attempt_at = ?, sent_at = ?,"
    " lease_owner = NULL, lease_until = NULL, in_doubt = (in_doubt OR ?), updated_at = ?"
    " WHERE id = ?"
)
_MARK = (
    "UPDATE deliveries SET status = '{sending}', attempts = attempts + 1, updated_at = ?"
    " WHERE id IN ({ids})"
    " AND EXISTS (SELECT 1 FROM campaigns WHERE id = ? AND status = '{campaign_sending}')"
)


def stored_time(value: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy's SQLite dialect stores a UTCDateTime."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given for a UTC column")
    utc = value.astimezone(UTC)
    if utc.year < 1000:
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f")  # the C library's %Y: not zero-padded here
    # strftime's text for years of four digits, in half its time: the
    # "YYYY-MM-DD HH:MM:SS.ffffff" before the "+00:00".
    return utc.isoformat(" ", "microseconds")[:26]


def outcome_row(o: Outcome, now: datetime) -> tuple[object, ...]:
    at = stored_time(now)
    return (
        o.status.value,
        o.code,
        o.reply,
        o.failure.value if o.failure else None,
        o.message_id,
        at if o.next_attempt_at is None else stored_time(o.next_attempt_at),
        stored_time(o.sent_at),
        1 if o.in_doubt else 0,
        at,
        o.id,
    )


T = TypeVar("T")

_WRITERS: dict[Path, FastWriter] = {}
_WRITERS_GUARD = threading.Lock()


def fast_writer(path: Path) -> FastWriter:
    """This process's one FastWriter for the database file ``path``.

    One connection per file and process, however many stores and runs come
    and go (a Celery worker makes a store per chunk): writes take turns
    anyway (writelock.py).
    """
    key = path.resolve()
    with _WRITERS_GUARD:
        if key not in _WRITERS:
            _WRITERS[key] = FastWriter(key)
        return _WRITERS[key]


class FastWriter:
    """A connection of its own to the database file, used by one writer at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._inode = 0
        self._guard = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        inode = os.stat(self.path).st_ino
        if self._conn is not None and inode != self._inode:
            # The file was replaced (deleted and made anew): the old connection
            # would write to the old, unlinked one.
            self._conn.close()
            self._conn = None
        if self._conn is None:
            self._inode = inode
            # Autocommit mode: the transaction is ours to BEGIN and COMMIT.
            # Used by whichever thread leads the group commit, never two at once.
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._conn = conn
        return self._conn

    def write(
        self,
        outcomes: Sequence[tuple[Outcome, datetime]],
        marks: dict[int, tuple[list[int], datetime]],
    ) -> dict[int, bool]:
        """Record ``outcomes`` and mark each campaign's rows sending, in one transaction.

        ``marks``: campaign id -> (row ids, when). Returns, per campaign,
        whether it was still sending (its rows marked) or not (none marked).
        """

        def write(conn: sqlite3.Connection) -> dict[int, bool]:
            if outcomes:
                conn.executemany(_OUTCOME, [outcome_row(o, now) for o, now in outcomes])
            sending: dict[int, bool] = {}
            for cid, (ids, now) in marks.items():
                sql = _MARK.format(
                    sending=DeliveryStatus.SENDING.value,
                    campaign_sending=CampaignStatus.SENDING.value,
                    ids=",".join("?" * len(ids)),
                )
                cur = conn.execute(sql, (stored_time(now), *ids, cid))
                sending[cid] = cur.rowcount > 0
            return sending

        return self.transaction(write)

    def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` in one write transaction (BEGIN IMMEDIATE), committed or rolled back."""
        with self._guard:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

    def close(self) -> None:
        with self._guard:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
