"""CSV import: streamed into a staging table, then merged set-wise.

Pass one reads the file row by row, checks every field and writes the good
rows to a temporary table with driver-level executemany (rejected rows are
remembered with their line and reason). Pass two is a handful of SQL
statements over that table: drop suppressed and unsubscribed addresses, merge
duplicate lines of one address, work out which rows add, update or leave
alone, then insert and update in bulk. Memory stays flat in the file's size;
the work per row is mostly inside the database.

Merging follows one rule everywhere: a blank cell never erases what is known,
a later value replaces an earlier one, attributes are merged key by key.
Because duplicates are merged before comparing with the database, importing
the same file twice changes nothing the second time. The whole import is one
transaction: a fatal problem leaves the database as it was.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from subscribers import bulk
from subscribers.addresses import parse_address
from subscribers.csvio import Header, read_header, restore_cell
from subscribers.csvlines import LineSource, Rows, RowTooLong
from subscribers.errors import ImportFailed, InvalidInput
from subscribers.fields import CONTROL, MAX_ATTR_VALUE, MAX_NAME, check_language, control_problem
from subscribers.lists import get_list
from subscribers.members import initial_status
from subscribers.merge import MergeSql
from subscribers.models import Subscriber, SubscriptionStatus, utcnow
from subscribers.rejections import Rejection, RejectionLog

__all__ = ["ImportReport", "Rejection", "import_csv"]

CHUNK = 5000
_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class ImportReport:
    """Counts are per address; duplicate lines of one address are merged first.

    ``rejected`` lives on disk (RejectionLog): iterate it, or take its len.
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: RejectionLog = field(default_factory=RejectionLog)
    duplicates: int = 0  # lines merged into an earlier line of the same address

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything, rejected rows included (all in memory: for small imports and tests)."""
        return {**self.counts(), "rejected": [r.as_dict() for r in self.rejected]}


def import_csv(
    session: Session,
    source: Path | str | BinaryIO,
    list_slug: str,
    *,
    confirmed: bool = False,
    progress: Callable[[int], None] | None = None,
    name: str | None = None,
) -> ImportReport:
    """Import a CSV file (a path, or an open binary stream such as stdin) into ``list_slug``.

    ``progress`` gets the bytes read so far; ``name`` names a stream in
    messages and in the consent source. Raises ImportFailed (or NotFound for
    the list) for problems with the whole file; the caller's rollback then
    leaves the database untouched. A bad row is only ever that row's problem.
    """
    ml = get_list(session, list_slug)
    if isinstance(source, str):
        source = Path(source)
    if isinstance(source, Path):
        name = name or source.name
        try:
            raw: BinaryIO = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ImportFailed(f"cannot read {source}: {exc.strerror}") from None
    else:
        raw, name = source, name or "stdin"
    conn = session.connection()
    sql = MergeSql(conn.dialect)
    report = ImportReport()
    conn.exec_driver_sql(sql.drop_staging)
    conn.exec_driver_sql(sql.create_staging)
    try:
        _stage(conn, sql, LineSource(raw, name), report, progress)
    finally:
        if isinstance(source, Path):
            raw.close()
    status = initial_status(ml, confirmed)
    now = bulk.binder(Subscriber.__table__.c.created_at, conn.dialect)(utcnow())
    params = {
        "list_id": ml.id,
        "status": status.value,
        "confirm": confirmed,
        "now": now,
        "confirmed_at": now if status is SubscriptionStatus.CONFIRMED else None,
        "source": f"import:{name}",
    }
    _merge(conn, sql, params, report)
    conn.exec_driver_sql(sql.drop_staging)
    return report


def _stage(
    conn: Connection,
    sql: MergeSql,
    source: LineSource,
    report: ImportReport,
    progress: Callable[[int], None] | None,
) -> None:
    """Pass one: check each row; good ones go to the staging table, bad ones to disk."""
    rows_in = Rows(source)
    try:
        header = read_header(rows_in.reader)
    except (RowTooLong, csv.Error) as exc:
        raise ImportFailed(f"the header row cannot be read: {exc or 'it is too long'}") from None
    write = _writer(conn, sql)
    rows: list[tuple[Any, ...]] = []
    report.rejected.new_run()
    reject = report.rejected.add
    while (item := rows_in.read()) is not None:
        line, fields = item
        if isinstance(fields, str):  # the row could not be read as CSV
            reject(line, rows_in.first_cell(), fields)
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # a blank line
        try:
            rows.append((line, *_check_row(fields, header)))
        except InvalidInput as exc:
            email = fields[header.email].strip() if header.email < len(fields) else ""
            reject(line, email, str(exc))
            continue
        if len(rows) >= CHUNK:
            write(rows)
            rows = []
            if progress is not None:
                progress(source.position)
    if rows:
        write(rows)
    if progress is not None:
        progress(source.position)


# A file holds a handful of distinct language tags: check each once.
_language = functools.lru_cache(maxsize=1024)(check_language)


def _writer(conn: Connection, sql: MergeSql) -> Callable[[list[tuple[Any, ...]]], None]:
    """Rows into the staging table: COPY on PostgreSQL, executemany elsewhere."""
    if sql.copy_staging is None:

        def executemany(rows: list[tuple[Any, ...]]) -> None:
            conn.exec_driver_sql(sql.insert_staging, rows)

        return executemany
    raw = conn.connection.dbapi_connection
    assert raw is not None

    def copy(rows: list[tuple[Any, ...]]) -> None:
        with raw.cursor() as cur, cur.copy(sql.copy_staging) as out:  # type: ignore[attr-defined]
            for row in rows:
                out.write_row(row)

    return copy


def _check_row(fields: list[str], h: Header) -> tuple[Any, ...]:
    """(key, hash, email, name, language, attrs) of a good row; InvalidInput otherwise."""
    n = len(h.columns)
    if len(fields) > n:
        raise InvalidInput("row", f"has {len(fields)} fields; the header has {n}")
    if len(fields) < n:
        fields = fields + [""] * (n - len(fields))
    joined = "\t".join(fields)
    if "'" in joined:
        fields = [restore_cell(v.strip()) for v in fields]
    if CONTROL.search(joined):
        bad = next(i for i, v in enumerate(fields) if CONTROL.search(v))
        raise InvalidInput(h.columns[bad], control_problem(fields[bad]) or "")
    address = parse_address(fields[h.email])
    name = fields[h.name].strip() if h.name >= 0 else ""
    if "\t" in name:
        raise InvalidInput("name", "contains a tab")
    if len(name) > MAX_NAME:
        raise InvalidInput("name", f"is {len(name)} characters long (at most {MAX_NAME})")
    language = _language(fields[h.language]) if h.language >= 0 else None
    attrs = "{}"
    if h.attributes:
        found = {}
        for i, key in h.attributes:
            value = fields[i].strip()
            if value:
                if len(value) > MAX_ATTR_VALUE:
                    raise InvalidInput(key, f"is longer than {MAX_ATTR_VALUE} characters")
                found[key] = value
        if found:
            attrs = _to_json(found)
    return address.key, address.hash, address.given, name, language, attrs


def _merge(conn: Connection, sql: MergeSql, params: dict[str, Any], report: ImportReport) -> None:
    """Pass two: set-wise decisions and writes over the staging table."""
    conn.exec_driver_sql(sql.index_staging)
    if sql.analyze_staging:
        conn.exec_driver_sql(sql.analyze_staging)
    _reject(
        conn,
        sql.suppressed_rows,
        sql.delete_suppressed,
        params,
        report,
        "address is suppressed; not subscribed",
    )
    conn.execute(sql.fill_ids, params)
    conn.execute(sql.fill_status, params)
    _reject(
        conn,
        sql.unsubscribed_rows,
        sql.delete_unsubscribed,
        params,
        report,
        "unsubscribed from this list; not resubscribed",
    )
    report.duplicates = _merge_duplicates(conn, sql)
    conn.execute(sql.mark_changed, params)
    added, updated, total = conn.execute(sql.counts, params).one()
    report.added, report.updated = added or 0, updated or 0
    report.unchanged = (total or 0) - report.added - report.updated
    conn.execute(sql.insert_subscribers, params)
    conn.execute(sql.fill_ids, params)
    if sql.analyze_staging:
        conn.exec_driver_sql(sql.analyze_staging)
    conn.execute(sql.update_subscribers, params)
    conn.execute(sql.insert_subscriptions, params)
    if params["confirm"]:
        conn.execute(sql.confirm_subscriptions, params)


def _reject(
    conn: Connection,
    select_rows: Any,
    delete_rows: Any,
    params: dict[str, Any],
    report: ImportReport,
    reason: str,
) -> None:
    report.rejected.new_run()
    found = False
    for line, email in conn.execute(select_rows, params):
        report.rejected.add(line, email, reason)
        found = True
    if found:
        conn.execute(delete_rows, params)


def _merge_duplicates(conn: Connection, sql: MergeSql) -> int:
    """Fold every address's lines into its first line; returns lines removed."""
    merged = 0
    after = ""
    to_json = bulk.binder(Subscriber.__table__.c.attributes, conn.dialect)
    while True:
        keys = conn.execute(sql.duplicate_keys, {"after": after}).scalars().all()
        if not keys:
            return merged
        after = keys[-1]
        survivors: dict[str, list[Any]] = {}
        dropped: list[tuple[int]] = []
        for line, key, name, language, attrs in conn.execute(sql.rows_of_keys, {"keys": keys}):
            attrs = attrs if isinstance(attrs, dict) else json.loads(attrs)
            first = survivors.get(key)
            if first is None:
                survivors[key] = [line, name, language, attrs]
                continue
            dropped.append((line,))
            if name:
                first[1] = name
            if language:
                first[2] = language
            first[3] = {**first[3], **attrs}
        conn.exec_driver_sql(
            sql.update_staging,
            [(name, lang, to_json(attrs), line) for line, name, lang, attrs in survivors.values()],
        )
        conn.exec_driver_sql(sql.delete_staging_line, dropped)
        merged += len(dropped)
