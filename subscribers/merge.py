"""The SQL of the import's second pass, for SQLite and PostgreSQL.

All of it runs against ``import_rows``, a temporary table private to the
importing connection. The two dialects differ only in the staging table's
JSON type and in how two JSON objects are merged.
"""

from __future__ import annotations

from sqlalchemy import Dialect, bindparam, text

from subscribers.bulk import placeholder

_COLUMNS = ("line", "key", "hash", "email", "name", "language", "attrs")


class MergeSql:
    def __init__(self, dialect: Dialect) -> None:
        pg = dialect.name == "postgresql"
        mark = placeholder(dialect)
        json_type = "JSONB" if pg else "TEXT"
        self.drop_staging = "DROP TABLE IF EXISTS import_rows"
        self.create_staging = (
            "CREATE TEMPORARY TABLE import_rows ("
            " line INTEGER PRIMARY KEY, key TEXT NOT NULL, hash TEXT NOT NULL,"
            " email TEXT NOT NULL, name TEXT NOT NULL, language TEXT,"
            f" attrs {json_type} NOT NULL, subscriber_id INTEGER, status TEXT,"
            " changed INTEGER NOT NULL DEFAULT 0)"
        )
        self.index_staging = "CREATE INDEX import_rows_key ON import_rows (key)"
        # PostgreSQL never auto-analyzes a temporary table; without statistics
        # it plans the joins below as nested loops over 200,000-row scans.
        self.analyze_staging = "ANALYZE import_rows" if pg else None
        self.copy_staging = f"COPY import_rows ({', '.join(_COLUMNS)}) FROM STDIN" if pg else None
        self.insert_staging = (
            f"INSERT INTO import_rows ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(_COLUMNS))})"
        )
        self.update_staging = (
            f"UPDATE import_rows SET name = {mark}, language = {mark}, attrs = {mark} "
            f"WHERE line = {mark}"
        )
        self.delete_staging_line = f"DELETE FROM import_rows WHERE line = {mark}"

        self.suppressed_rows = text(
            "SELECT line, email FROM import_rows "
            "WHERE hash IN (SELECT email_hash FROM suppressions) ORDER BY line"
        )
        self.delete_suppressed = text(
            "DELETE FROM import_rows WHERE hash IN (SELECT email_hash FROM suppressions)"
        )
        self.fill_ids = text(
            "UPDATE import_rows SET subscriber_id = (SELECT s.id FROM subscribers s"
            " WHERE s.email_normalized = import_rows.key) WHERE subscriber_id IS NULL"
        )
        self.fill_status = text(
            "UPDATE import_rows SET status = (SELECT x.status FROM subscriptions x"
            " WHERE x.subscriber_id = import_rows.subscriber_id AND x.list_id = :list_id)"
            " WHERE subscriber_id IS NOT NULL"
        )
        self.unsubscribed_rows = text(
            "SELECT line, email FROM import_rows WHERE status = 'unsubscribed' ORDER BY line"
        )
        self.delete_unsubscribed = text("DELETE FROM import_rows WHERE status = 'unsubscribed'")

        self.duplicate_keys = text(
            "SELECT key FROM import_rows WHERE key > :after GROUP BY key"
            " HAVING COUNT(*) > 1 ORDER BY key LIMIT 1000"
        )
        self.rows_of_keys = text(
            "SELECT line, key, name, language, attrs FROM import_rows"
            " WHERE key IN :keys ORDER BY key, line"
        ).bindparams(bindparam("keys", expanding=True))

        merged = "s.attributes || r.attrs" if pg else "json_patch(s.attributes, r.attrs)"
        same = "s.attributes" if pg else "json(s.attributes)"
        empty = "'{}'::jsonb" if pg else "'{}'"
        self.mark_changed = text(
            "UPDATE import_rows AS r SET changed = 1 FROM subscribers s"
            " WHERE s.id = r.subscriber_id AND ("
            "  (r.name <> '' AND r.name <> s.name)"
            "  OR (r.language IS NOT NULL AND (s.language IS NULL OR r.language <> s.language))"
            f"  OR (r.attrs <> {empty} AND {merged} <> {same}))"
        )
        self.counts = text(
            "SELECT"
            " SUM(CASE WHEN status IS NULL THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN status IS NOT NULL AND (changed = 1"
            "   OR (:confirm AND status = 'unconfirmed')) THEN 1 ELSE 0 END),"
            " COUNT(*) FROM import_rows"
        )
        self.insert_subscribers = text(
            "INSERT INTO subscribers (email, email_normalized, email_hash, name, language,"
            " attributes, consent_source, consent_at, created_at, updated_at)"
            " SELECT email, key, hash, name, language, attrs, :source, :now, :now, :now"
            " FROM import_rows WHERE subscriber_id IS NULL ORDER BY line"
        )
        self.update_subscribers = text(
            "UPDATE subscribers AS s SET"
            " name = CASE WHEN r.name <> '' THEN r.name ELSE s.name END,"
            " language = COALESCE(r.language, s.language),"
            f" attributes = {merged}, updated_at = :now"
            " FROM import_rows r WHERE r.subscriber_id = s.id AND r.changed = 1"
        )
        self.insert_subscriptions = text(
            "INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, confirmed_at)"
            " SELECT subscriber_id, :list_id, :status, :now, :confirmed_at"
            " FROM import_rows WHERE status IS NULL"
        )
        self.confirm_subscriptions = text(
            "UPDATE subscriptions AS x SET status = 'confirmed', confirmed_at = :now"
            " FROM import_rows r WHERE x.subscriber_id = r.subscriber_id"
            " AND x.list_id = :list_id AND x.status = 'unconfirmed' AND r.status = 'unconfirmed'"
        )
