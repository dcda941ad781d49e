"""The watch page's Blocked count and "unsubscribed since" on every report surface."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from mailer.campaigns.models import Delivery, DeliveryStatus
from mailer.campaigns.report import report
from mailer.cli import cli
from mailer.db import session_scope
from mailer.delivery.outcomes import Failure, Outcome
from mailer.delivery.store import DeliveryStore
from subscribers.lists import create_list
from subscribers.members import add_subscriber, unsubscribe
from subscribers.models import Subscriber, utcnow
from tests.mailer.sending import new_campaign
from tests.mailer.web.staff import Staff, bearer

Login = Callable[[str], TestClient]
BLOCK_REPLY = "5.7.1 Message rejected by policy"


@dataclass
class Sent:
    campaign: int
    left: str  # a recipient who unsubscribed from the list after the start
    blocked: str


@pytest.fixture
def sent(console: tuple[TestClient, Staff], engine: Engine) -> Sent:
    """u0…u2 of lmec-news: u0 delivered then unsubscribed, u1 blocked, u2 delivered."""
    with session_scope(engine) as s:
        add_subscriber(s, "gone@example.org", "lmec-news", confirmed=True)
        unsubscribe(s, "gone@example.org", "lmec-news")  # before: not a recipient at all
        create_list(s, "events", title="Events", double_opt_in=False)
        add_subscriber(s, "u2@example.org", "events")
    cid = new_campaign(engine)
    with session_scope(engine) as s:
        found = s.execute(
            select(Subscriber.email, Delivery.id)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.campaign_id == cid)
        ).all()
    ids = dict(found)
    now = utcnow()
    DeliveryStore(engine).record(
        cid,
        [
            Outcome(ids["u0@example.org"], DeliveryStatus.SENT, 250, "ok", sent_at=now),
            Outcome(
                ids["u1@example.org"],
                DeliveryStatus.FAILED,
                550,
                BLOCK_REPLY,
                failure=Failure.BLOCK,
            ),
            Outcome(ids["u2@example.org"], DeliveryStatus.SENT, 250, "ok", sent_at=now),
        ],
        now,
    )
    with session_scope(engine) as s:
        unsubscribe(s, "u0@example.org", "lmec-news")
        unsubscribe(s, "u2@example.org", "events")  # another list: not counted
    return Sent(cid, "u0@example.org", "u1@example.org")


def _count(html: str, label: str) -> int:
    found = re.search(rf"<dt>{re.escape(label)}</dt><dd>(\d+)</dd>", html)
    assert found, f"no {label!r} count on the page"
    return int(found.group(1))


def test_the_watch_page_counts_a_blocked_delivery(sent: Sent, login: Login) -> None:
    c = login("viewer")
    page = c.get(f"/admin/campaigns/{sent.campaign}")
    assert page.status_code == 200
    assert _count(page.text, "Blocked") == 1 and _count(page.text, "Failed") == 1
    live = c.get(f"/admin/campaigns/{sent.campaign}/live")  # the part htmx refreshes
    assert _count(live.text, "Blocked") == 1
    report_page = c.get(f"/admin/campaigns/{sent.campaign}/report?status=failed")
    assert _count(report_page.text, "Blocked (policy)") == 1 and BLOCK_REPLY in report_page.text


def test_the_watch_page_charts_the_send_rate_per_minute(sent: Sent, login: Login) -> None:
    live = login("viewer").get(f"/admin/campaigns/{sent.campaign}/live").text
    chart = re.search(
        r'<svg viewBox="0 0 600 140" role="img" aria-labelledby="rate-cap">(.*?)</svg>', live, re.S
    )
    assert chart, "no rate chart"
    bars = re.findall(
        r'<rect class="bar"[^>]* height="([\d.]+)"><title>\d\d:\d\d: (\d+)</title>', chart.group(1)
    )
    assert sum(int(n) for _, n in bars) == 2  # u0 and u2 were sent
    # The busiest minute fills the chart's height; the figures are there as a table too.
    assert max(float(h) for h, _ in bars) == 120.0
    assert "<caption>Messages sent per minute (UTC)</caption>" in live


def test_the_page_reloads_when_the_status_it_shows_is_out_of_date(sent: Sent, login: Login) -> None:
    c = login("viewer")
    status = c.get(f"/admin/campaigns/{sent.campaign}/live").text
    shown = re.search(r'live\?shown=(\w+)|class="status (\w+)"', status)
    assert shown
    current = shown.group(1) or shown.group(2)
    same = c.get(f"/admin/campaigns/{sent.campaign}/live", params={"shown": current})
    assert same.status_code == 200 and "HX-Refresh" not in same.headers
    stale = c.get(f"/admin/campaigns/{sent.campaign}/live", params={"shown": "paused"})
    assert stale.headers.get("HX-Refresh") == "true"  # its buttons no longer fit
    bad = c.get(f"/admin/campaigns/{sent.campaign}/live", params={"shown": "<x>"})
    assert bad.status_code == 422


def test_the_report_service_counts_who_left_since_the_start(sent: Sent, engine: Engine) -> None:
    with session_scope(engine) as s:
        r = report(s, sent.campaign)
    assert r.unsubscribed == 1 and r.as_dict()["unsubscribed_since"] == 1
    assert r.recipients == 3  # gone@ left before the start: never a recipient


def test_the_console_report_and_csv_show_who_left(sent: Sent, login: Login) -> None:
    c = login("viewer")
    page = c.get(f"/admin/campaigns/{sent.campaign}/report")
    assert _count(page.text, "Unsubscribed since") == 1
    only = c.get(f"/admin/campaigns/{sent.campaign}/report?status=unsubscribed").text
    assert sent.left in only and sent.blocked not in only and "u2@example.org" not in only
    data = c.get(f"/admin/campaigns/{sent.campaign}/report.csv")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(data.text))}
    assert rows[sent.left]["unsubscribed_at"].startswith(str(utcnow().year))
    assert rows[sent.blocked]["unsubscribed_at"] == "" == rows["u2@example.org"]["unsubscribed_at"]


def test_the_api_report_shows_who_left(sent: Sent, console: tuple[TestClient, Staff]) -> None:
    c, staff = console
    body = c.get(f"/api/v1/campaigns/{sent.campaign}/report", headers=bearer(staff.viewer)).json()
    assert body["campaign"]["unsubscribed_since"] == 1 and body["campaign"]["blocked"] == 1
    left = {x["email"]: x["unsubscribed_at"] for x in body["recipients"]["items"]}
    assert left[sent.left] is not None and left[sent.blocked] is None
    only = c.get(
        f"/api/v1/campaigns/{sent.campaign}/report",
        params={"status": "unsubscribed"},
        headers=bearer(staff.viewer),
    ).json()
    assert [x["email"] for x in only["recipients"]["items"]] == [sent.left]


def test_the_cli_report_shows_who_left(sent: Sent, db_url: str, workdir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["campaigns", "status", str(sent.campaign)], env={"MAILER_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output
    assert "unsubscribed since: 1" in result.output
    assert "(1 blocked)" in result.output
