"""The plain-DBAPI hot path on SQLite writes exactly the rows SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text

from mailer.bounces.policy import Policy
from mailer.campaigns.models import Delivery, DeliveryStatus
from mailer.db import make_engine, sqlite_path
from mailer.delivery.outcomes import Failure, Outcome
from mailer.delivery.recording import write_outcomes
from mailer.delivery.sqlitefast import FastWriter, stored_time
from subscribers.models import utcnow
from tests.mailer.sending import new_campaign, populate


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Engine:
    import shutil

    path = tmp_path / "fast.db"
    shutil.copy(sqlite_template, path)
    return make_engine(f"sqlite:///{path}")


def outcomes(ids: list[int], now: datetime) -> list[Outcome]:
    return [
        Outcome(ids[0], DeliveryStatus.SENT, 250, "2.0.0 Ok: queued", "<m1@x>", sent_at=now),
        Outcome(
            ids[1],
            DeliveryStatus.DEFERRED,
            451,
            "4.3.0 Later «ü»",
            "<m2@x>",
            next_attempt_at=now + timedelta(minutes=3),
            failure=Failure.SOFT,
            in_doubt=True,
        ),
        Outcome(ids[2], DeliveryStatus.FAILED, 550, "5.1.1 gone", None, failure=Failure.HARD),
        Outcome(ids[3], DeliveryStatus.SKIPPED, reply="address is suppressed"),
    ]


def rows(engine: Engine, cid: int) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT status, smtp_code, smtp_reply, failure, message_id, next_attempt_at,"
                    " sent_at, lease_owner, lease_until, in_doubt, updated_at, attempts"
                    " FROM deliveries WHERE campaign_id = :c ORDER BY id"
                ),
                {"c": cid},
            )
        ]


def test_the_same_outcomes_give_the_same_rows_both_ways(sqlite_engine: Engine) -> None:
    populate(sqlite_engine, 8)
    first, second = new_campaign(sqlite_engine), new_campaign(sqlite_engine, force=True)
    with sqlite_engine.connect() as conn:
        ids = {
            c: list(
                conn.scalars(
                    select(Delivery.id).where(Delivery.campaign_id == c).order_by(Delivery.id)
                )
            )
            for c in (first, second)
        }
        # A message id already there is kept when the outcome has none (coalesce).
        # Rows of both campaigns alike before: fixed times, and an old message id.
        day = "'2026-01-01 00:00:00.000000'"
        conn.execute(
            text(
                f"UPDATE deliveries SET message_id = '<old@x>', next_attempt_at = {day},"
                f" created_at = {day}, updated_at = {day}"
            )
        )
        conn.commit()
    now = utcnow()
    core, fast = outcomes(ids[first], now), outcomes(ids[second], now)
    with sqlite_engine.begin() as conn:
        write_outcomes(conn, [(first, core, now)], Policy())
    path = sqlite_path(sqlite_engine)
    assert path is not None
    writer = FastWriter(path)
    marked = writer.write([(o, now) for o in fast], {second: (ids[second][4:6], now)})
    assert marked == {second: True}
    with sqlite_engine.begin() as conn:  # the same mark, the SQLAlchemy way, for the first
        conn.execute(
            text(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
                " updated_at = :now WHERE id IN (:a, :b)"
            ),
            {"now": stored_time(now), "a": ids[first][4], "b": ids[first][5]},
        )
    writer.close()
    # Stored alike, byte for byte, as the ORM reads them back alike.
    assert rows(sqlite_engine, first) == rows(sqlite_engine, second)
    with sqlite_engine.connect() as conn:
        orm = [
            conn.scalars(
                select(Delivery.next_attempt_at)
                .where(Delivery.campaign_id == c)
                .order_by(Delivery.id)
            ).all()
            for c in (first, second)
        ]
    assert orm[0] == orm[1]
    assert all(t is not None and t.tzinfo is not None for t in orm[1])


def test_a_campaign_no_longer_sending_gets_nothing_marked(sqlite_engine: Engine) -> None:
    populate(sqlite_engine, 3)
    cid = new_campaign(sqlite_engine)
    with sqlite_engine.begin() as conn:
        conn.execute(text("UPDATE campaigns SET status = 'paused' WHERE id = :c"), {"c": cid})
        ids = list(conn.scalars(select(Delivery.id).where(Delivery.campaign_id == cid)))
    path = sqlite_path(sqlite_engine)
    assert path is not None
    writer = FastWriter(path)
    assert writer.write([], {cid: (ids[:2], utcnow())}) == {cid: False}
    writer.close()
    assert {r[0] for r in rows(sqlite_engine, cid)} == {"queued"}


def test_a_failure_rolls_back_the_whole_group(sqlite_engine: Engine) -> None:
    populate(sqlite_engine, 2)
    cid = new_campaign(sqlite_engine)
    with sqlite_engine.connect() as conn:
        ids = list(conn.scalars(select(Delivery.id).where(Delivery.campaign_id == cid)))
    path = sqlite_path(sqlite_engine)
    assert path is not None
    writer = FastWriter(path)
    good = Outcome(ids[0], DeliveryStatus.SENT, 250, "ok", "<a@x>", sent_at=utcnow())
    naive = Outcome(ids[1], DeliveryStatus.SENT, 250, "ok", "<b@x>", sent_at=utcnow())
    naive = Outcome(**{**naive.__dict__, "sent_at": utcnow().replace(tzinfo=None)})
    with pytest.raises(ValueError, match="naive"):
        writer.write([(good, utcnow()), (naive, utcnow())], {})
    assert {r[0] for r in rows(sqlite_engine, cid)} == {"queued"}
    assert writer.write([(good, utcnow())], {}) == {}  # the connection is usable again
    writer.close()
    assert [r[0] for r in rows(sqlite_engine, cid)] == ["sent", "queued"]


def test_one_writer_per_file_and_a_replaced_file_gets_a_new_connection(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    import shutil

    from mailer.delivery.sqlitefast import fast_writer

    path = sqlite_path(sqlite_engine)
    assert path is not None
    assert fast_writer(path) is fast_writer(path.parent / ".." / path.parent.name / path.name)
    populate(sqlite_engine, 1)
    cid = new_campaign(sqlite_engine)
    sqlite_engine.dispose()
    writer = fast_writer(path)
    assert writer.write([], {cid: ([], utcnow())}) == {cid: False}  # opens its connection
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    path.unlink()
    shutil.copy(copy, path)  # a new file at the same path
    with make_engine(f"sqlite:///{path}").connect() as conn:
        rid = conn.scalar(select(Delivery.id).where(Delivery.campaign_id == cid))
    assert rid is not None
    assert writer.write([], {cid: ([rid], utcnow())}) == {cid: True}
    assert [r[0] for r in rows(make_engine(f"sqlite:///{path}"), cid)] == ["sending"]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 29, 8, 0, 1, 123456, tzinfo=UTC),
        datetime(2026, 11, 29, 8, 0, 1, 0, tzinfo=UTC),  # isoformat would drop ".000000"
        datetime(2026, 1, 1, 0, 30, 0, 7, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
        datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(seconds=-1, microseconds=5))),
        datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC),  # strftime's %Y: "999" here
        datetime(1000, 1, 1, 0, 0, 1, tzinfo=timezone(timedelta(hours=-1))),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        utcnow(),
    ],
)
def test_stored_time_is_strftimes_text(value: datetime) -> None:
    assert stored_time(value) == value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def test_stored_time_refuses_a_naive_datetime() -> None:
    assert stored_time(None) is None
    with pytest.raises(ValueError, match="naive"):
        stored_time(datetime(2026, 11, 29, 8, 0, 1))
