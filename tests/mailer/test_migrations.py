from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, Engine, inspect, text

from mailer.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    session_scope,
    upgrade,
)
from subscribers.importer import import_csv
from subscribers.members import add_subscriber
from subscribers.tokens import Purpose, Tokens


def test_upgrade_from_empty_then_check(db_url: str) -> None:
    """The per-test database was made by `upgrade head`; models and migrations agree."""
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    assert {"subscribers", "lists", "subscriptions", "suppressions"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.begin() as conn:
        command.check(alembic_config(conn))  # raises if they differ
    engine.dispose()


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def _old_rows(conn: Connection) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    conn.execute(
        text(
            "INSERT INTO lists (id, slug, title, description, double_opt_in, public, created_at)"
            " VALUES (1, 'news', 'News', '', :yes, :yes, :now)"
        ),
        {"yes": True, "now": now},
    )
    for sid in (1, 2, 3):
        conn.execute(
            text(
                "INSERT INTO subscribers (id, email, email_normalized, email_hash, name,"
                " attributes, created_at, updated_at)"
                " VALUES (:id, :e, :e, :h, '', '{}', :now, :now)"
            ),
            {"id": sid, "e": f"s{sid}@example.org", "h": f"{sid:064d}", "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO subscriptions (subscriber_id, list_id, status, created_at)"
                " VALUES (:id, 1, 'confirmed', :now)"
            ),
            {"id": sid, "now": now},
        )
    if conn.dialect.name == "postgresql":  # explicit ids leave the sequence behind
        conn.execute(text("SELECT setval('subscribers_id_seq', 3)"))
    # The newest subscriber was erased before the upgrade.
    conn.execute(text("DELETE FROM subscribers WHERE id = 3"))


def test_upgrade_keeps_every_row_and_the_links_already_sent(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    with engine.begin() as conn:
        _old_rows(conn)
    tokens = Tokens("migration-secret")
    old_links = {sid: tokens.make(Purpose.UNSUBSCRIBE, sid, 1) for sid in (1, 2, 3)}
    upgrade(engine)
    with engine.connect() as conn:
        # The SQLite rebuild cascaded to nothing: the subscriptions are all there.
        assert conn.execute(text("SELECT COUNT(*) FROM subscriptions")).scalar() == 2
        rows = conn.execute(text("SELECT id, link_key FROM subscribers ORDER BY id")).all()
        assert rows == [(1, None), (2, None)]  # old rows keep no key: old links still fit
        if engine.dialect.name == "sqlite":
            schema = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'subscribers'")
            ).scalar()
            assert "AUTOINCREMENT" in str(schema)
    for sid in (1, 2):
        assert tokens.read(Purpose.UNSUBSCRIBE, old_links[sid]).fits(None)

    with session_scope(engine) as s:
        new = add_subscriber(s, "new@example.org", "news").subscriber
        new_id, new_key = new.id, new.link_key
    assert new_key is not None and len(new_key) == 32
    # Whatever id it got (SQLite may hand out 3 once: the erased row was the
    # highest), the erased person's old link does not fit the new person.
    assert not tokens.read(Purpose.UNSUBSCRIBE, old_links[3]).fits(new_key)
    assert new_id >= 3

    csv = tmp_path / "more.csv"
    csv.write_text("email\nbulk@example.org\n", encoding="utf-8")
    with session_scope(engine) as s:  # plain SQL inserts get a key from the database
        import_csv(s, str(csv), "news")
    with engine.connect() as conn:
        bulk_key = conn.execute(
            text("SELECT link_key FROM subscribers WHERE email_normalized = 'bulk@example.org'")
        ).scalar()
    assert isinstance(bulk_key, str) and len(bulk_key) == 32 and bulk_key != new_key
    with engine.begin() as conn:
        command.check(alembic_config(conn))
    engine.dispose()


def _rows_at_0003(conn: Connection) -> None:
    """One of everything a 0003 database holds, linked as a real one would be."""
    _old_rows(conn)
    now = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    conn.execute(
        text(
            "INSERT INTO campaigns (id, list_id, slug, subject, default_language, sources,"
            " status, scheduled_at, created_at)"
            " VALUES (1, 1, 'issue-1', 'Issue 1', 'en', '{}', 'finished', :now, :now)"
        ),
        {"now": now},
    )
    for sid in (1, 2):
        conn.execute(
            text(
                "INSERT INTO deliveries (campaign_id, subscriber_id, language, status, attempts,"
                " next_attempt_at, in_doubt, created_at, updated_at)"
                " VALUES (1, :sid, 'en', 'sent', 1, :now, :no, :now, :now)"
            ),
            {"sid": sid, "now": now, "no": False},
        )
        conn.execute(
            text(
                "INSERT INTO bounce_events (email_hash, subscriber_id, campaign_id, kind, source,"
                " detail, created_at) VALUES (:h, :sid, 1, 'soft', 'dsn', 'full', :now)"
            ),
            {"h": f"{sid:064d}", "sid": sid, "now": now},
        )


def test_upgrade_from_0003_loses_no_row(db_url: str) -> None:
    """Every later revision keeps the data: SQLite table rebuilds never cascade.

    Revision 0004 rebuilt `subscribers` in batch mode while foreign keys were
    enforced, and the DROP TABLE deleted every subscription; migrations now
    run with foreign keys off and checked before the commit.
    """
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    with engine.begin() as conn:
        _rows_at_0003(conn)
    tables = ("subscribers", "subscriptions", "campaigns", "deliveries", "bounce_events")
    with engine.connect() as conn:
        before = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in tables}
    assert before == {t: 2 if t != "campaigns" else 1 for t in tables}
    upgrade(engine)
    with engine.connect() as conn:
        after = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in tables}
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert after == before
    engine.dispose()
