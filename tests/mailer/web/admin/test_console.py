"""The console over HTTP: login, CSRF, roles, rate limit, the issue-to-report journey."""

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from mailer.accounts import users
from mailer.campaigns.models import Campaign
from mailer.db import session_scope
from mailer.message import OutgoingMessage
from tests.mailer.helpers import EXAMPLE
from tests.mailer.web.admin.conftest import csrf_of
from tests.mailer.web.conftest import SETTINGS
from tests.mailer.web.staff import PASSWORD, Staff

Login = Callable[[str], TestClient]


def test_pages_need_a_login_and_cookies_are_safe(
    console: tuple[TestClient, Staff], login: Login
) -> None:
    c, _ = console
    r = c.get("/admin/issues", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?next=/admin/issues"
    form = c.get("/admin/login")
    r = c.post(
        "/admin/login",
        data={
            "email": "editor@example.org",
            "password": PASSWORD,
            "csrf": csrf_of(form.text),
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/admin/"  # never off-site
    cookie = r.headers["set-cookie"]
    for flag in ("HttpOnly", "SameSite=lax", "Secure", "Path=/admin"):
        assert flag.lower() in cookie.lower(), cookie
    assert c.get("/admin/issues").status_code == 200
    page = c.get("/admin/issues").text
    assert "<script>" not in page and "onclick" not in page  # nothing inline for the CSP
    c.post("/admin/logout", data={"csrf": csrf_of(page)})
    assert c.get("/admin/issues", follow_redirects=False).status_code == 303


def test_a_form_post_without_csrf_token_is_refused(
    console: tuple[TestClient, Staff], login: Login, engine: Engine
) -> None:
    c = login("admin")
    r = c.post("/admin/lists", data={"name": "sneaky"})
    assert r.status_code == 403 and "security token" in r.text
    r = c.post("/admin/lists", data={"name": "sneaky", "csrf": "0" * 64})
    assert r.status_code == 403
    c.cookies.clear()
    assert (
        c.post(
            "/admin/login", data={"email": "admin@example.org", "password": PASSWORD}
        ).status_code
        == 403
    )
    with session_scope(engine) as s:
        from subscribers.models import MailingList

        assert s.scalar(select(MailingList).where(MailingList.slug == "sneaky")) is None


def test_ten_wrong_passwords_are_rate_limited(console: tuple[TestClient, Staff]) -> None:
    c, _ = console
    codes = []
    for _ in range(10):
        form = c.get("/admin/login")
        r = c.post(
            "/admin/login",
            data={
                "email": "editor@example.org",
                "password": "wrong password",
                "csrf": csrf_of(form.text),
            },
        )
        codes.append(r.status_code)
    assert codes[:5] == [401] * 5 and codes[5:] == [429] * 5
    form = c.get("/admin/login")
    r = c.post(
        "/admin/login",
        data={"email": "editor@example.org", "password": PASSWORD, "csrf": csrf_of(form.text)},
    )
    assert r.status_code == 429  # even the right password, until the window passes


def test_other_spellings_of_one_address_share_its_login_limit(
    console: tuple[TestClient, Staff],
) -> None:
    """Fullwidth letters in the domain name the same account (UTS 46 maps them),
    so each spelling must not bring five fresh guesses."""
    c, _ = console
    spellings = [
        "editor@example.org",
        "EDITOR@example.org",
        "editor@\uff45xample.org",
        "editor@e\uff58ample.org",
        "editor@ex\uff41mple.org",
        " editor@EXAMPLE.org ",
    ]
    codes = []
    for email in spellings:
        form = c.get("/admin/login")
        r = c.post(
            "/admin/login",
            data={"email": email, "password": "wrong password", "csrf": csrf_of(form.text)},
        )
        codes.append(r.status_code)
    assert codes == [401] * 5 + [429]
    form = c.get("/admin/login")
    r = c.post(
        "/admin/login",
        data={
            "email": "editor@exam\uff50le.org",
            "password": PASSWORD,
            "csrf": csrf_of(form.text),
        },
    )
    assert r.status_code == 429


def test_one_time_link_pages_are_not_cached_or_referred(
    console: tuple[TestClient, Staff], engine: Engine
) -> None:
    c, _ = console
    with session_scope(engine) as s:
        user = users.create_user(s, "fresh@example.org", "viewer")
        token = users.one_time_token(SETTINGS.secret_key, user)
    for path in (f"/admin/password/{token}", f"/admin/login-link/{token}"):
        r = c.get(path)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store", path
        assert r.headers["referrer-policy"] == "no-referrer", path


def test_an_import_named_dot_dot_is_imported_not_a_500(
    console: tuple[TestClient, Staff], login: Login
) -> None:
    c = login("editor")
    csrf = csrf_of(c.get("/admin/lists/lmec-news").text)
    for name in ("..", "a/../..", "../x.csv"):
        r = c.post(
            "/admin/lists/lmec-news/import",
            data={"csrf": csrf},
            files={"file": (name, b"email\nz@example.org\n", "text/csv")},
        )
        assert r.status_code == 200, (name, r.status_code)
    assert "z@example.org" in c.get("/admin/subscribers?q=z@").text


def test_a_csv_import_larger_than_a_strangers_limit_goes_through(
    console: tuple[TestClient, Staff], login: Login
) -> None:
    """Staff import whole lists: 3,000 rows (~100 KB) is over the 64 KB a stranger may send."""
    c = login("editor")
    csrf = csrf_of(c.get("/admin/lists/lmec-news").text)
    rows = "".join(f"reader{i:05d}@example.org,Reader number {i}\n" for i in range(3000))
    body = ("email,name\n" + rows).encode()
    assert len(body) > 64 * 1024
    r = c.post(
        "/admin/lists/lmec-news/import",
        data={"csrf": csrf},
        files={"file": ("big.csv", body, "text/csv")},
    )
    assert r.status_code == 200, r.text[:300]
    assert "reader02999@example.org" in c.get("/admin/subscribers?q=reader02999").text
    c.cookies.clear()
    r = c.post(
        "/admin/lists/lmec-news/import",
        data={"csrf": csrf},
        files={"file": ("big.csv", body, "text/csv")},
    )
    assert r.status_code == 413


def test_set_password_link_works_once(console: tuple[TestClient, Staff], engine: Engine) -> None:
    c, _ = console
    with session_scope(engine) as s:
        user = users.create_user(s, "new@example.org", "viewer")
        token = users.one_time_token(SETTINGS.secret_key, user)
    form = c.get(f"/admin/password/{token}")
    assert form.status_code == 200 and "new@example.org" in form.text
    data = {"password": "fresh password 1", "again": "fresh password 1", "csrf": csrf_of(form.text)}
    r = c.post(f"/admin/password/{token}", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/admin/issues").status_code == 200
    c.cookies.clear()
    assert c.get(f"/admin/password/{token}").status_code == 404


def _upload(c: TestClient) -> int:
    page = c.get("/admin/issues")
    r = c.post(
        "/admin/issues/upload",
        data={"csrf": csrf_of(page.text)},
        files={"file": (EXAMPLE.name, EXAMPLE.read_bytes(), "text/markdown")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return int(r.headers["location"].split("/")[3].split("?")[0])


def test_viewer_sees_no_schedule_button_and_gets_403(
    console: tuple[TestClient, Staff], login: Login
) -> None:
    c = login("editor")
    issue = _upload(c)
    c = login("viewer")
    page = c.get(f"/admin/issues/{issue}")
    assert page.status_code == 200 and "Continue to confirmation" not in page.text
    r = c.post(
        f"/admin/issues/{issue}/schedule",
        data={"list": "lmec-news", "now": "1", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 403 and "editor" in r.text


def test_editor_journey_upload_preview_test_schedule_report(
    console: tuple[TestClient, Staff], login: Login, outbox: list[OutgoingMessage], engine: Engine
) -> None:
    c = login("editor")
    issue = _upload(c)
    page = c.get(f"/admin/issues/{issue}")
    assert (
        'class="w600"' in page.text
        and 'class="w375"' in page.text
        and "No problems found" in page.text
    )
    html = c.get(f"/admin/issues/{issue}/message.html?lang=en")
    assert "Viewpoints" in html.text and "sandbox" in html.headers["content-security-policy"]
    csrf = csrf_of(page.text)
    c.post(f"/admin/issues/{issue}/test", data={"to": "me@example.org", "csrf": csrf})
    assert [m.envelope_to for m in outbox] == ["me@example.org"] and b"[TEST]" in outbox[0].data

    confirm = c.post(
        f"/admin/issues/{issue}/schedule",
        data={
            "list": "lmec-news",
            "date": "2030-12-03",
            "time": "09:00",
            "tz": "Asia/Shanghai",
            "csrf": csrf,
        },
    )
    assert confirm.status_code == 200
    for text in (
        "LMEC Newsletter",
        "<strong>3</strong>",
        "2030-12-03 09:00 Asia/Shanghai",
        "2030-12-03 01:00 UTC",
    ):
        assert text in confirm.text, text
    with session_scope(engine) as s:
        assert (
            s.scalar(select(func.count()).select_from(Campaign)) == 0
        )  # nothing before confirming
    r = c.post(
        f"/admin/issues/{issue}/schedule/confirm",
        data={
            "list": "lmec-news",
            "when": "2030-12-03T01:00:00+00:00",
            "version": "1",
            "csrf": csrf_of(confirm.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    watch = c.get(r.headers["location"])
    assert "scheduled" in watch.text and 'hx-trigger="every 2s"' in watch.text
    cid = r.headers["location"].rsplit("/", 1)[1]
    live = c.get(f"/admin/campaigns/{cid}/live")
    assert live.status_code == 200 and "<html" not in live.text
    c.post(f"/admin/campaigns/{cid}/cancel", data={"csrf": csrf_of(watch.text)})
    report = c.get(f"/admin/campaigns/{cid}/report")
    assert "cancelled" in report.text
    rows = list(csv.reader(io.StringIO(c.get(f"/admin/campaigns/{cid}/report.csv").text)))
    assert rows[0][:2] == ["email", "status"]


def test_bad_schedule_input_is_a_clear_error(
    console: tuple[TestClient, Staff], login: Login
) -> None:
    c = login("editor")
    issue = _upload(c)
    csrf = csrf_of(c.get(f"/admin/issues/{issue}").text)
    r = c.post(
        f"/admin/issues/{issue}/schedule",
        data={
            "list": "lmec-news",
            "date": "2030-12-03",
            "time": "09:00",
            "tz": "Mars/Olympus",
            "csrf": csrf,
        },
    )
    assert r.status_code == 400 and "Mars/Olympus" in r.text
    r = c.post(
        f"/admin/issues/{issue}/schedule",
        data={
            "list": "lmec-news",
            "date": "2001-01-01",
            "time": "09:00",
            "tz": "UTC",
            "csrf": csrf,
        },
    )
    assert "has passed" in r.text
    r = c.post(f"/admin/issues/{issue}/schedule", data={"list": "nope", "now": "1", "csrf": csrf})
    assert r.status_code == 404 and "nope" in r.text


def test_lists_and_subscribers(console: tuple[TestClient, Staff], login: Login) -> None:
    c = login("editor")
    page = c.get("/admin/lists/lmec-news")
    csrf = csrf_of(page.text)
    data = "email,name\nnew@example.org,New\nbroken,X\n"
    r = c.post(
        "/admin/lists/lmec-news/import",
        data={"csrf": csrf},
        files={"file": ("a.csv", data.encode(), "text/csv")},
    )
    assert "1 added" in r.text and "broken" in r.text
    shown = c.get("/admin/subscribers/new@example.org")
    assert "lmec-news" in shown.text and "Erase" not in shown.text  # editors cannot erase
    assert (
        c.post("/admin/subscribers/new@example.org/erase", data={"csrf": csrf}).status_code == 403
    )
    c.post("/admin/subscribers/new@example.org/suppress", data={"csrf": csrf})
    assert "Suppressed" in c.get("/admin/subscribers/new@example.org").text
    assert "new@example.org" in c.get("/admin/subscribers?q=new").text
    assert c.get("/admin/lists/lmec-news/export.csv").text.count("@example.org") == 4
    c = login("admin")
    csrf = csrf_of(c.get("/admin/lists").text)
    r = c.post("/admin/lists", data={"name": "events", "title": "Events", "csrf": csrf})
    assert r.status_code == 200 and "Events" in r.text
    erased = c.post("/admin/subscribers/new@example.org/erase", data={"csrf": csrf})
    assert erased.status_code == 200
    assert "subscriber.erase" in c.get("/admin/audit").text


def test_forged_or_revoked_session_cookies_are_not_sessions(
    console: tuple[TestClient, Staff], login: Login
) -> None:
    c = login("admin")
    real = c.cookies.get("mailer_session")
    assert real is not None
    token, _, signature = real.rpartition(".")
    c.cookies.set("mailer_session", f"{token}.{signature[::-1]}", path="/admin")
    assert c.get("/admin/issues", follow_redirects=False).status_code == 303
    c.cookies.set("mailer_session", real, path="/admin")
    page = c.get("/admin/issues")
    c.post("/admin/logout", data={"csrf": csrf_of(page.text)})
    c.cookies.set("mailer_session", real, path="/admin")  # a copy kept after logout
    assert c.get("/admin/issues", follow_redirects=False).status_code == 303


def test_author_html_is_only_shown_sandboxed(
    console: tuple[TestClient, Staff], login: Login
) -> None:
    c = login("editor")
    page = c.get("/admin/issues")
    evil = (
        "---\nsubject: Hi\n---\n<script>alert(1)</script>\n\n<img src=x alt=x onerror=alert(1)>\n"
    )
    r = c.post(
        "/admin/issues/upload",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("evil.md", evil.encode(), "text/markdown")},
    )
    assert r.status_code == 200
    assert "<script>alert" not in r.text  # the console page never carries it
    assert r.text.count("sandbox src=") == 2  # both preview frames: no scripts, no origin
    issue = r.url.path.rsplit("/", 1)[1]
    raw = c.get(f"/admin/issues/{issue}/message.html")
    assert raw.headers["content-security-policy"].startswith("sandbox")
    live = c.post(
        "/admin/issues/preview",
        data={
            "subject": "Hi",
            "slug": "hi",
            "language": "en",
            "body": "<script>x()</script>",
            "csrf": csrf_of(page.text),
        },
    )
    assert "<script>" not in live.text and "sandbox srcdoc=" in live.text


def test_an_issue_sent_from_a_file_shows_up_and_can_be_stored(
    console: tuple[TestClient, Staff], login: Login, engine: Engine
) -> None:
    from tests.mailer.sending import new_campaign

    cid = new_campaign(engine, start=False)  # what `mailer send FILE` records
    c = login("editor")
    page = c.get("/admin/issues")
    assert "Sent from files" in page.text and f"/admin/campaigns/{cid}" in page.text
    r = c.post(f"/admin/issues/adopt/{cid}", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200 and f"as sent by campaign {cid}" in r.text
    assert "Sent from files" not in c.get("/admin/issues").text
