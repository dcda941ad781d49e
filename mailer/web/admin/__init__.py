"""The staff console under /admin: server-rendered pages, htmx for live parts.

Its own FastAPI app, mounted: its error pages and CSRF check apply to it
alone, never to the subscriber pages. htmx is vendored in
templates/admin/static (no build step); pages carry no inline script, so a
``script-src 'self'`` Content-Security-Policy holds.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from mailer.errors import MailerError
from mailer.resources import templates_dir
from mailer.web.admin import auth, campaigns, issues, lists, previews, sending
from mailer.web.admin.render import page
from mailer.web.admin.session import CsrfFailed, Forbidden, LoginRequired, check_csrf, optional_user
from mailer.web.api.problems import STATUS
from subscribers.errors import SubscribersError


def _back(request: Request) -> str:
    referer = request.headers.get("referer", "")
    base = str(request.base_url).rstrip("/")
    if referer.startswith(base + "/admin"):
        return referer[len(base) :]
    return "/admin/"


def _error(request: Request, status: int, text: str) -> Response:
    return page(
        request,
        "error.html",
        optional_user(request),
        "Something is wrong",
        status,
        text=text,
        back=_back(request),
    )


def install(app: FastAPI) -> None:
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state.web = app.state.web
    console.state.staff = app.state.staff
    static = templates_dir() / "admin" / "static"
    console.mount("/static", StaticFiles(directory=str(static)), name="static")
    for module in (auth, issues, previews, sending, campaigns, lists):
        console.include_router(module.router, dependencies=[Depends(check_csrf)])

    async def login_required(request: Request, _exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/admin/login"})
        return RedirectResponse(f"/admin/login?next={target}", status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return _error(request, 403, f"You cannot do this: {exc}. Ask an admin if you need to.")

    async def csrf_failed(request: Request, _exc: Exception) -> Response:
        return _error(
            request,
            403,
            "This form was not sent from the console page (missing or stale "
            "security token). Reload the page and try again.",
        )

    async def service_error(request: Request, exc: Exception) -> Response:
        status = next((code for kind, code in STATUS if isinstance(exc, kind)), 400)
        return _error(request, status, str(exc))

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:])
        return _error(request, 422, f"{where}: {first.get('msg', 'invalid input')}")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(request, exc.status_code, str(exc.detail))

    console.add_exception_handler(LoginRequired, login_required)
    console.add_exception_handler(Forbidden, forbidden)
    console.add_exception_handler(CsrfFailed, csrf_failed)
    console.add_exception_handler(MailerError, service_error)
    console.add_exception_handler(SubscribersError, service_error)
    console.add_exception_handler(RequestValidationError, invalid)
    console.add_exception_handler(HTTPException, http_error)
    app.mount("/admin", console)
