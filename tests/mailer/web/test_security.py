"""Every route sends the security headers; token pages keep their token to themselves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from mailer.web.security import CSP

TOKEN_PAGES = ("/confirm/", "/unsubscribe/", "/preferences/")


def _routes(routes: list[Any]) -> Iterator[Route]:
    for route in routes:
        if isinstance(route, APIRoute | Route):
            yield route
        inner = getattr(route, "original_router", None)  # included routers
        if inner is not None:
            yield from _routes(inner.routes)


def _requests(client: TestClient) -> list[tuple[str, str]]:
    out = []
    for route in _routes(client.app.routes):  # type: ignore[attr-defined]
        path = route.path.replace("{token}", "not-a-token").replace("{slug}", "lmec-news")
        for method in sorted(route.methods or ()):
            out.append((method, path))
    return out


def test_every_route_sends_the_headers(client: TestClient) -> None:
    requests = [*_requests(client), ("GET", "/no/such/page"), ("POST", "/archive")]
    paths = {p for _, p in requests}
    assert {"/archive", "/healthz", "/confirm/not-a-token", "/lists/lmec-news/subscribe"} <= paths
    for method, path in requests:
        r = client.request(method, path)
        h = r.headers
        assert h["content-security-policy"] == CSP, (method, path)
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        if path.startswith(TOKEN_PAGES):
            assert h["referrer-policy"] == "no-referrer", (method, path, r.status_code)
            assert h["cache-control"] == "no-store", (method, path, r.status_code)
        else:
            assert h["referrer-policy"] == "same-origin"


def test_the_policy_forbids_inline_script_and_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'self'" in directives["style-src"]


def test_pages_have_no_inline_script(client: TestClient) -> None:
    for path in ("/archive", "/lists/lmec-news/subscribe", "/confirm/not-a-token"):
        assert "<script" not in client.get(path).text.lower()
