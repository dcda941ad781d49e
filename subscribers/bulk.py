"""Thin helpers for the bulk paths: driver-level executemany and bound values.

The ORM and even Core's executemany cost 3-4x the driver's own on these
paths (PERF-NOTES.md), so the importer sends plain tuples straight to the
DBAPI cursor. The values must then be in the form SQLAlchemy itself would
have sent; ``binder`` asks the column's type for that form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Dialect


def placeholder(dialect: Dialect) -> str:
    return "?" if dialect.paramstyle == "qmark" else "%s"


def insert_sql(dialect: Dialect, table: str, columns: Sequence[str]) -> str:
    marks = ", ".join([placeholder(dialect)] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def update_sql(dialect: Dialect, table: str, columns: Sequence[str], where: Sequence[str]) -> str:
    mark = placeholder(dialect)
    sets = ", ".join(f"{c} = {mark}" for c in columns)
    cond = " AND ".join(f"{c} = {mark}" for c in where)
    return f"UPDATE {table} SET {sets} WHERE {cond}"


def executemany(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        conn.exec_driver_sql(sql, list(rows))


def binder(column: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """A function giving a value as the driver receives it for ``column``."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor if processor is not None else _identity


def _identity(value: Any) -> Any:
    return value
