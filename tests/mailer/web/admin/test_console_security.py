"""Findings of an attacker's review: sessions after account changes, reflected
notices, and the headers of error responses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.routing import Mount

from mailer.accounts import users
from mailer.db import session_scope
from mailer.web.app import create_app
from mailer.web.security import CSP
from tests.mailer.web.admin.conftest import csrf_of
from tests.mailer.web.conftest import SETTINGS
from tests.mailer.web.staff import PASSWORD, Staff, bearer

Login = Callable[[str], TestClient]
NEW_PASSWORD = "another long password"


def _logged_out(c: TestClient, cookie: str) -> bool:
    """Whether the console treats ``cookie`` as no session (page and htmx request)."""
    c.cookies.set("mailer_session", cookie, path="/admin")
    page = c.get("/admin/issues", follow_redirects=False)
    live = c.get("/admin/issues", headers={"HX-Request": "true"}, follow_redirects=False)
    return (
        page.status_code == 303
        and str(page.headers["location"]).startswith("/admin/login")
        and live.status_code == 401
    )


def test_setting_a_password_ends_the_users_other_sessions(
    console: tuple[TestClient, Staff], login: Login, engine: Engine
) -> None:
    c = login("editor")
    old = c.cookies.get("mailer_session")
    assert old is not None and c.get("/admin/issues").status_code == 200
    with session_scope(engine) as s:
        link = users.one_time_token(SETTINGS.secret_key, users.get_user(s, "editor@example.org"))
    c.cookies.clear()
    form = c.get(f"/admin/password/{link}")
    data = {"password": NEW_PASSWORD, "again": NEW_PASSWORD, "csrf": csrf_of(form.text)}
    r = c.post(f"/admin/password/{link}", data=data, follow_redirects=False)
    assert r.status_code == 303
    new = c.cookies.get("mailer_session")
    assert new is not None and new != old
    assert c.get("/admin/issues").status_code == 200  # who set it is logged in
    assert _logged_out(c, old)  # whoever held the old session is not
    c.cookies.clear()
    form = c.get("/admin/login")
    r = c.post(
        "/admin/login",
        data={"email": "editor@example.org", "password": PASSWORD, "csrf": csrf_of(form.text)},
    )
    assert r.status_code == 401  # and the old password is gone


def test_disabling_a_user_revokes_sessions_and_tokens_for_good(
    console: tuple[TestClient, Staff], login: Login, engine: Engine
) -> None:
    c, staff = console
    login("editor")
    old = c.cookies.get("mailer_session")
    assert old is not None
    assert c.get("/api/v1/lists", headers=bearer(staff.editor)).status_code == 200
    with session_scope(engine) as s:
        users.set_disabled(s, "editor@example.org")
    assert _logged_out(c, old)
    assert c.get("/api/v1/lists", headers=bearer(staff.editor)).status_code == 401
    with session_scope(engine) as s:
        users.set_disabled(s, "editor@example.org", False)
    # Enabled again: the old session and token stay dead; logging in works.
    assert _logged_out(c, old)
    assert c.get("/api/v1/lists", headers=bearer(staff.editor)).status_code == 401
    assert login("editor").get("/admin/issues").status_code == 200


def test_a_new_role_ends_the_sessions_of_the_old_one(
    console: tuple[TestClient, Staff], login: Login, engine: Engine
) -> None:
    c = login("editor")
    old = c.cookies.get("mailer_session")
    assert old is not None
    with session_scope(engine) as s:
        users.set_role(s, "editor@example.org", "viewer")
    assert _logged_out(c, old)
    login("viewer")  # another user's session is untouched by it
    assert c.get("/admin/issues").status_code == 200


@pytest.mark.parametrize(
    "notice",
    [
        "Your account is locked. Call +1 555 0100 to unlock it",
        "<b>bold</b>",
        "list-created-but-not-quite",
        "saved" + "x" * 50,
    ],
)
def test_a_notice_in_the_query_string_is_never_shown(
    console: tuple[TestClient, Staff], login: Login, notice: str
) -> None:
    c = login("editor")
    r = c.get("/admin/issues", params={"notice": notice})
    assert r.status_code == 200
    assert notice not in r.text and "&lt;b&gt;bold" not in r.text
    assert 'class="notice"' not in r.text  # an unknown code shows nothing


def test_a_known_notice_code_shows_its_own_text(
    console: tuple[TestClient, Staff], login: Login
) -> None:
    c = login("admin")
    page = c.get("/admin/lists")
    r = c.post(
        "/admin/lists", data={"name": "events", "title": "Events", "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 200 and r.url.query == b"notice=list-created"
    assert '<p class="notice" role="status">List created.</p>' in r.text


def _mounted(app: FastAPI, path: str) -> FastAPI:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == path)
    assert isinstance(mount.app, FastAPI)
    return mount.app


def test_an_unhandled_error_goes_out_with_the_security_headers(engine: Engine) -> None:
    app = create_app(SETTINGS, engine)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    _mounted(app, "/api/v1").add_api_route("/boom", boom)
    _mounted(app, "/admin").add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("/boom", "/api/v1/boom", "/admin/boom"):
            r = c.get(path)
            assert r.status_code == 500, path
            assert r.headers["content-security-policy"] == CSP, path
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["x-frame-options"] == "DENY", path
            assert "a bug" not in r.text and "Traceback" not in r.text, path
