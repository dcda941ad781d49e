"""A size limit on every request body (ASGI middleware), refused with 413.

A declared Content-Length over the limit is refused before a byte of the
body is read; a body without one (chunked) is read only up to the limit.
Either way memory stays flat whatever a client sends. The body that fits
is handed on to the app as it came.

Staff uploads (a CSV import, an issue file) may be larger: on those few
routes, and only for a request that carries staff credentials (the console's
session cookie or an API bearer token; the route itself then checks them),
the limit is ``STAFF_UPLOAD`` instead. A stranger's request stays at 64 KB.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 64 * 1024
STAFF_UPLOAD = 20 * 1024 * 1024
UPLOAD_PATHS = re.compile(
    r"^/(admin/lists/[^/]+/import|admin/issues/(upload|save|preview)"
    r"|api/v1/lists/[^/]+/import|api/v1/issues)$"
)


def _limit(scope: Scope, default: int) -> int:
    if not UPLOAD_PATHS.match(scope.get("path", "")):
        return default
    headers = dict(scope["headers"])
    staff = headers.get(b"authorization", b"").lower().startswith(b"bearer ") or (
        b"mailer_session=" in headers.get(b"cookie", b"")
    )
    return max(default, STAFF_UPLOAD) if staff else default


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = _limit(scope, self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "the Content-Length header is not a number")
                return
            if int(declared) > limit:
                await _refuse(send, 413, _too_large(limit))
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away mid-body: nothing to act on
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, 413, _too_large(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit // 1024} KB"


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
