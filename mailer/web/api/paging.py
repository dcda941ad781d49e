"""Cursor pagination: an opaque cursor names the last item of the previous page."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Path, Query

from mailer.web.api.problems import ApiProblem

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[
    str | None, Query(max_length=100, description="next_cursor of the previous page")
]


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        number = int(value)
        if kind != "id" or number < 0 or number > 2**62:
            raise ValueError
        return number
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(400, "cursor: not a cursor this API gave out") from None


def page(items: list[dict[str, Any]], ids: list[int], limit: int) -> dict[str, Any]:
    """``items`` fetched with ``limit + 1``: the extra one says there is a next page."""
    more = len(items) > limit
    return {
        "items": items[:limit],
        "next_cursor": encode(ids[limit - 1]) if more else None,
    }


# Ids as the database holds them: larger numbers are simply not found.
Id = Annotated[int, Path(ge=1, le=2**62)]
Version = Annotated[int | None, Query(ge=1, le=2**31)]
After = Annotated[int | None, Query(ge=0, le=2**62)]
