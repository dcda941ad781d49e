"""The console in headless Chromium against a live server, a real SMTP server and the runner.

An editor logs in, uploads the example issue, sees it at 600 and 375 px,
test-sends it, schedules it for the list, watches it finish and reads the
report; a viewer has no schedule button and gets 403; a form without its
CSRF token is refused; ten wrong passwords are rate-limited; axe-core finds
no serious or critical violation on any console page. Screenshots of every
page go to test-artifacts/console-*.png.
"""

import dataclasses
import email
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from mailer.accounts import users
from mailer.campaigns.report import report
from mailer.db import make_engine, session_scope
from mailer.devserver import free_port
from mailer.scheduler.runner import Runner
from mailer.web.app import create_app
from subscribers.lists import create_list
from subscribers.members import add_subscriber
from tests.browser import artifact, browser
from tests.mailer.helpers import EXAMPLE, ROOT
from tests.mailer.web.conftest import SETTINGS
from tests.mailer.web.staff import PASSWORD
from tests.smtp_server import SmtpServer
from tests.waiting import wait_for

AXE = Path(os.environ.get("MAILER_TEST_AXE", ROOT / ".venv/axe-core/package/axe.min.js"))


def axe_source() -> str:
    if not AXE.exists():
        message = f"axe-core not found at {AXE} (`make test` fetches it with npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def live(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, Any, SmtpServer]]:
    db_file = tmp_path / "console.db"
    shutil.copy(sqlite_template, db_file)
    engine = make_engine(f"sqlite:///{db_file}")
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=False)
        for i in range(30):
            add_subscriber(s, f"reader{i}@example.org", "lmec-news", confirmed=True)
        for role in ("editor", "viewer", "admin"):
            users.set_password(s, users.create_user(s, f"{role}@example.org", role), PASSWORD)
    port = free_port()
    with SmtpServer() as smtp:
        settings = dataclasses.replace(
            SETTINGS,
            database_url=f"sqlite:///{db_file}",
            base_url=f"http://127.0.0.1:{port}",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            workers=1,
        )
        app = create_app(settings, engine)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        runner = Runner(engine, settings, sweep_seconds=0.5)
        runner.start()
        assert wait_for(lambda: server.started)
        try:
            yield settings.base_url, engine, smtp
        finally:
            runner.stop()
            server.should_exit = True
            thread.join(timeout=10)
            engine.dispose()


def log_in(page: Any, base: str, role: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/admin/login")
    page.get_by_label("Email address").fill(f"{role}@example.org")
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def check_accessibility(page: Any, source: str, name: str) -> None:
    page.evaluate(source)
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
    )
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {bad}"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(artifact(f"console-{name}.png")), full_page=True)


def test_editor_journey_in_a_browser(live: tuple[str, Any, SmtpServer]) -> None:
    base, engine, smtp = live
    axe = axe_source()
    with browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
        page.goto(f"{base}/admin/login")
        shot(page, "01-login")
        check_accessibility(page, axe, "login")
        log_in(page, base, "editor")
        assert page.url.endswith("/admin/issues")
        page.get_by_label("Markdown or HTML file with front matter").set_input_files(str(EXAMPLE))
        with page.expect_navigation():
            page.get_by_role("button", name="Upload").click()
        assert "Saved" in page.content()
        widths = page.evaluate(
            "() => [...document.querySelectorAll('#preview-h ~ .frames iframe')]"
            ".map(f => f.clientWidth)"
        )
        assert widths == [600, 375], widths
        frame = page.frame_locator("iframe.w375").first
        assert "Viewpoints" in frame.locator("body").inner_text()
        assert "CHEN ZIHUA" in page.locator(".textpart pre").inner_text()
        shot(page, "02-issue")
        check_accessibility(page, axe, "issue")

        page.get_by_label("Send to").fill("editor@example.org")
        with page.expect_navigation():
            page.get_by_role("button", name="Send test").click()
        assert "Test message sent" in page.content()
        assert wait_for(lambda: smtp.handler.by_recipient().get("editor@example.org"))
        test = email.message_from_bytes(smtp.handler.by_recipient()["editor@example.org"][0].data)
        assert str(test["Subject"]).startswith("[TEST]")

        page.get_by_label("List").select_option("lmec-news")
        # A DOM click: a mouse click can land while the preview frames still shift the layout.
        now = page.get_by_label("Send now instead")
        now.evaluate("e => e.click()")
        assert now.is_checked()
        with page.expect_navigation():
            page.get_by_role("button", name="Continue to confirmation").evaluate("e => e.click()")
        assert "30" in page.locator(".confirm").inner_text()
        shot(page, "03-confirm")
        check_accessibility(page, axe, "confirm")
        with page.expect_navigation():
            page.get_by_role("button", name="Send now to 30 recipients").click()
        # htmx polls the live part until the campaign is finished.
        page.wait_for_function(
            "() => document.querySelector('#live-h .status')?.textContent === 'finished'",
            timeout=60_000,
        )
        assert page.locator("dl.counts div", has_text="Sent").locator("dd").inner_text() == "30"
        shot(page, "04-watch")
        check_accessibility(page, axe, "watch")
        with page.expect_navigation():
            page.get_by_role("link", name="Report").click()
        assert page.locator("tbody tr").count() == 30
        shot(page, "05-report")
        check_accessibility(page, axe, "report")
        page.get_by_label("Address contains").fill("reader7")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        assert page.locator("tbody tr").count() == 1

        # The editor's live preview: the unsaved text, rendered as it would be sent.
        page.goto(f"{base}/admin/issues/new")
        page.get_by_label("Subject").fill("Issue 8")
        page.get_by_label("Slug (same for every language variant)").fill("issue-8")
        page.get_by_label("Body (Markdown", exact=False).fill("Hello **{{ subscriber.name }}**")
        page.wait_for_selector("#live iframe.w375", timeout=15_000)
        assert "Hello" in page.frame_locator("#live iframe.w375").locator("body").inner_text()
        shot(page, "10-editor")
        check_accessibility(page, axe, "editor")
        with page.expect_navigation():
            page.get_by_role("button", name="Save as a new version").click()
        assert "Saved as a new version" in page.content()

        for path, name in (
            ("/admin/campaigns", "06-campaigns"),
            ("/admin/lists", "07-lists"),
            ("/admin/lists/lmec-news", "08-list"),
            ("/admin/subscribers/reader7@example.org", "09-subscriber"),
            ("/admin/issues", "11-issues"),
        ):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            shot(page, name)
            check_accessibility(page, axe, name)
    with session_scope(engine) as s:
        assert report(s, 1).counts["sent"] == 30
    assert len(smtp.handler.by_recipient()) == 31  # 30 readers and the test message


def test_viewer_csrf_and_rate_limit_in_a_browser(live: tuple[str, Any, SmtpServer]) -> None:
    base = live[0]
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        log_in(page, base, "editor")
        page.get_by_label("Markdown or HTML file with front matter").set_input_files(str(EXAMPLE))
        with page.expect_navigation():
            page.get_by_role("button", name="Upload").click()
        issue_url = page.url.split("?")[0]
        # A POST from this browser without the form's token: refused.
        refused = page.request.post(f"{issue_url}/test", form={"to": "x@example.org"})
        assert refused.status == 403

        page.context.clear_cookies()
        log_in(page, base, "viewer")
        page.goto(issue_url)
        assert page.get_by_role("button", name="Continue to confirmation").count() == 0
        shot(page, "12-viewer-issue")
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        r = page.request.post(
            f"{issue_url}/schedule", form={"list": "lmec-news", "now": "1", "csrf": csrf}
        )
        assert r.status == 403

        page.context.clear_cookies()
        for _ in range(10):
            log_in(page, base, "admin", "not the password")
        assert "Too many failed attempts" in page.content()
        shot(page, "13-rate-limited")
        log_in(page, base, "admin")  # the right password is refused too for now
        assert "Too many failed attempts" in page.content()


def test_console_pages_load_without_browser_errors(live: tuple[str, Any, SmtpServer]) -> None:
    base = live[0]
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on(
            "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        log_in(page, base, "editor")
        for path in ("/admin/issues", "/admin/lists", "/admin/subscribers", "/admin/campaigns"):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
    assert errors == []
