"""Errors as RFC 9457 problem details (``application/problem+json``).

The service's own errors map to statuses by kind; anything else is a bug
and answers a plain 500 problem without details (the log has them).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mailer.accounts.errors import AccountError
from mailer.campaigns.service import CampaignError
from mailer.errors import ContentError, MailerError
from subscribers.errors import (
    AlreadyExists,
    ImportFailed,
    InvalidInput,
    NotFound,
    SubscribersError,
    Suppressed,
)

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}
# Most specific first: the first class an error is an instance of decides.
STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (AlreadyExists, 409),
    (Suppressed, 409),
    (CampaignError, 409),
    (InvalidInput, 422),
    (ImportFailed, 422),
    (ContentError, 422),
    (AccountError, 422),
    (SubscribersError, 400),
    (MailerError, 400),
]


class ApiProblem(Exception):
    def __init__(
        self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    async def on_problem(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem(exc.status, exc.detail, exc.headers, **exc.extra)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return problem(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"][1:] or first["loc"])
        return problem(422, f"{where}: {first['msg']}", errors=errors)

    async def on_service(_request: Request, exc: Exception) -> JSONResponse:
        # A bad value also names its field as a member, for programs.
        extra: dict[str, Any] = {"field": exc.field} if isinstance(exc, InvalidInput) else {}
        for kind, status in STATUS:
            if isinstance(exc, kind):
                return problem(status, str(exc), **extra)
        return problem(400, str(exc))

    async def on_bug(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("API request failed", exc_info=exc)
        return problem(500, "the server failed; the error is in its log")

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(MailerError, on_service)
    app.add_exception_handler(SubscribersError, on_service)
    app.add_exception_handler(Exception, on_bug)
