"""Security headers on every response of the web app (an ASGI middleware).

- ``Content-Security-Policy``: no inline or foreign script at all (scripts
  only from our own origin, for a console under /admin that loads vendored
  JS); styles from our origin plus inline ones, which the pages and the
  newsletter layout use; images from anywhere over http(s) (newsletters
  link them); frames only from our origin (the console's message previews);
  no framing by others (``frame-ancestors 'none'``); forms post only here.
  A route that sets its own Content-Security-Policy or X-Frame-Options (the
  console's sandboxed preview of a message) keeps them: they are stricter
  for that response, not looser.
- ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options: DENY`` (for
  browsers without CSP level 2).
- On pages whose URL carries a token (confirm, unsubscribe, preferences, and
  the console's one-time set-password and login links):
  ``Referrer-Policy: no-referrer``, so the token never leaves in a Referer,
  and ``Cache-Control: no-store``, so no shared cache or history keeps it.
  Elsewhere ``Referrer-Policy: same-origin``.

An unhandled exception gets the same headers on its plain 500 answer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' https: http: data:; font-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
TOKEN_PATHS = (
    "/confirm/",
    "/unsubscribe/",
    "/preferences/",
    "/admin/password/",  # the console's one-time links
    "/admin/login-link/",
)
ALWAYS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)
TOKEN_PAGE = ((b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"))
OTHER_PAGE = ((b"referrer-policy", b"same-origin"),)
ROUTE_MAY_SET = {b"content-security-policy", b"x-frame-options"}


def is_token_path(path: str) -> bool:
    return path.startswith(TOKEN_PATHS)


class SecurityHeaders:
    """Adds the headers above, replacing any a route set itself for the same names."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = ALWAYS + (TOKEN_PAGE if is_token_path(scope["path"]) else OTHER_PAGE)
        names = {name for name, _ in extra}
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                own = {k.lower() for k, _ in message.get("headers", [])} & ROUTE_MAY_SET
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in names or k.lower() in own
                ]
                added = [(k, v) for k, v in extra if k not in own]
                message = {**message, "headers": headers + added}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's own 500 page is sent by its ServerErrorMiddleware, which
            # sits outside every user middleware: it would go out without the
            # headers above. Answer here, with them; re-raise so the error is
            # still logged (that middleware sees the response started and only
            # re-raises).
            if not started:
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send_with_headers(
                    {"type": "http.response.body", "body": b"Internal Server Error"}
                )
            raise
