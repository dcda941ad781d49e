"""A subscriber's whole journey in headless Chromium, against a live server.

Subscribe on the form → the confirmation email arrives at a real SMTP server
→ open its link → confirmed; a newsletter arrives → open its unsubscribe
link → press the button → unsubscribed, and the next campaign skips them.
Screenshots of every page go to test-artifacts/.
"""

import dataclasses
import email
import email.policy
import re
import shutil
import threading
from pathlib import Path

import uvicorn

from mailer.campaigns.report import report
from mailer.db import make_engine, session_scope
from mailer.delivery.engine import smtp_engine
from mailer.devserver import free_port
from mailer.outbox import OutboxWorker
from mailer.web.app import create_app
from subscribers.lists import create_list
from subscribers.members import describe
from tests.browser import artifact, browser
from tests.mailer.sending import new_campaign
from tests.mailer.web.conftest import SETTINGS
from tests.smtp_server import SmtpServer
from tests.waiting import wait_for


def body_text(raw: bytes, kind: str) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return msg.get_body((kind,)).get_content()  # type: ignore[union-attr]


def test_subscribe_confirm_unsubscribe_in_a_browser(sqlite_template: Path, tmp_path: Path) -> None:
    db_file = tmp_path / "web.db"
    shutil.copy(sqlite_template, db_file)
    engine = make_engine(f"sqlite:///{db_file}")
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=True)
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
        confirmations = OutboxWorker(app.state.web.outbox, poll_seconds=0.1)
        confirmations.start()
        assert wait_for(lambda: server.started)
        try:
            with browser() as b:
                page = b.new_page(viewport={"width": 420, "height": 900}, locale="en-US")
                page.goto(f"{settings.base_url}/lists/lmec-news/subscribe")
                page.screenshot(path=str(artifact("web-1-subscribe.png")), full_page=True)
                page.get_by_label("Email address").fill("reader@example.org")
                page.get_by_label("Name (optional)").fill("Reader Chen")
                page.get_by_role("button", name="Subscribe").click()
                page.wait_for_load_state()
                assert "Check your inbox" in page.content()
                page.screenshot(path=str(artifact("web-2-check-inbox.png")), full_page=True)

                assert wait_for(lambda: smtp.handler.by_recipient().get("reader@example.org"))
                confirmation = smtp.handler.by_recipient()["reader@example.org"][0].data
                link = re.search(
                    r"http://127\.0\.0\.1:\d+/confirm/\S+", body_text(confirmation, "plain")
                )
                assert link
                page.goto(link.group(0))  # the page only offers the button
                assert "Confirm your subscription" in page.content()
                page.get_by_role("button", name="Confirm my subscription").click()
                page.wait_for_load_state()
                assert "Subscription confirmed" in page.content()
                page.screenshot(path=str(artifact("web-3-confirmed.png")), full_page=True)

                cid = new_campaign(engine)
                assert smtp_engine(engine, settings).run(cid, threading.Event()) == "finished"
                newsletter = smtp.handler.by_recipient()["reader@example.org"][-1].data
                header = email.message_from_bytes(newsletter)["List-Unsubscribe"]
                unsubscribe = re.search(r"<(http[^>]+)>", header)
                assert unsubscribe
                page.goto(unsubscribe.group(1))
                page.screenshot(path=str(artifact("web-4-unsubscribe.png")), full_page=True)
                with session_scope(engine) as s:  # looking at the page changed nothing
                    assert (
                        describe(s, "reader@example.org")["subscriber"]["subscriptions"][0][
                            "status"
                        ]
                        == "confirmed"
                    )
                page.get_by_role("button", name="Unsubscribe", exact=True).click()
                page.wait_for_load_state()
                assert "You are unsubscribed" in page.content()
                page.screenshot(path=str(artifact("web-5-unsubscribed.png")), full_page=True)

                page.goto(f"{settings.base_url}/archive")
                page.get_by_role("link", name=re.compile("LMEC Newsletter, Issue 7")).click()
                page.wait_for_load_state()
                assert page.locator(".speaker-name").count() == 20
                page.screenshot(path=str(artifact("web-6-archive-issue.png")))
        finally:
            confirmations.stop()
            server.should_exit = True
            thread.join(timeout=10)
        with session_scope(engine) as s:
            info = describe(s, "reader@example.org")["subscriber"]
            assert info["subscriptions"][0]["status"] == "unsubscribed"
        second = new_campaign(engine, force=True)
        with session_scope(engine) as s:
            assert report(s, second).recipients == 0  # the next campaign skips them
    for name in ("web-1-subscribe", "web-3-confirmed", "web-5-unsubscribed"):
        assert artifact(f"{name}.png").stat().st_size > 5_000
