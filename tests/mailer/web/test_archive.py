"""The archive serves the sanitized snapshot stored when the campaign started."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update

from mailer.campaigns.models import ArchivedIssue
from mailer.db import session_scope
from subscribers.members import add_subscriber
from tests.mailer.sending import new_campaign

HOSTILE_HTML = """\
<p>Welcome {{ subscriber.name }}, to issue nine.</p>
<script>fetch('/steal?c=' + document.cookie)</script>
<img src="https://img.example/chart.png" alt="chart" onerror="alert(1)">
<p onclick="alert(2)" style="color: #0b5d4b">Click <a href="javascript:alert(3)">here</a>
or <a href="JaVaScRiPt:alert(4)">there</a> or <a href="https://lmec.example/report">the report</a>.</p>
<svg onload="alert(5)"><script>alert(6)</script></svg>
<iframe src="https://evil.example/"></iframe>
<form action="https://evil.example/"><input name="pw"></form>
<a href="{{ links.unsubscribe }}">Unsubscribe here</a>
"""
HOSTILE_MD = """\
Dear {{ subscriber.name }},

Markdown with <script>alert(7)</script> and <img src=x onerror=alert(8)>
and a [bad link](javascript:alert(9)) and <a href="javascript:alert(10)">raw</a>.
"""


def _issue(folder: Path, name: str, body: str, language: str = "en", slug: str = "nine") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(
        f"---\nsubject: Issue nine ({language})\nslug: {slug}\nlanguage: {language}\n"
        f"issue: 9\ndate: 2026-11-20\n---\n{body}",
        encoding="utf-8",
    )
    return path


def _send(engine: Engine, path: Path) -> int:
    with session_scope(engine) as s:
        add_subscriber(s, "li@example.org", "lmec-news", confirmed=True, name="Li")
    return new_campaign(engine, issue=str(path))


@pytest.mark.parametrize(("name", "body"), [("nine.html", HOSTILE_HTML), ("nine.md", HOSTILE_MD)])
def test_hostile_issue_is_served_sanitized(
    client: TestClient, engine: Engine, tmp_path: Path, name: str, body: str
) -> None:
    _send(engine, _issue(tmp_path / "issue", name, body))
    r = client.get("/archive/nine")
    assert r.status_code == 200
    page = r.text.lower()
    for tag in ("<script", "<iframe", "<form", "<svg", "<input"):
        assert tag not in page, tag
    tags = re.findall(r"<[^>]*>", page)
    for bad in ("onerror", "onclick", "onload", "javascript:", "alert("):
        assert not [t for t in tags if bad in t], bad
    # What is left of them is text a reader sees, never code.
    assert "fetch(" not in page and "alert(6)" not in page
    # The newsletter's look is kept: layout tables, inline styles, images, real links.
    assert '<table role="presentation"' in r.text and 'style="' in r.text
    assert "issue nine" in page
    assert ("dear reader," if name.endswith(".md") else "welcome reader,") in page
    if name.endswith(".html"):
        assert '<img src="https://img.example/chart.png" alt="chart"' in r.text
        assert 'href="https://lmec.example/report"' in r.text
        # The email's personal unsubscribe link leads nowhere on the web: not a link.
        assert re.search(r"<a[^>]*>Unsubscribe here</a>", r.text)
        assert not re.search(r"<a[^>]*href[^>]*>Unsubscribe here</a>", r.text)
    # Mail-only parts of the layout are left out.
    assert "you receive this email because" not in page and "view in your browser" not in page


def test_archive_serves_the_stored_snapshot_not_a_new_render(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    cid = _send(engine, _issue(tmp_path / "issue", "nine.md", "Hello.\n"))
    with session_scope(engine) as s:
        rows = s.scalars(select(ArchivedIssue).where(ArchivedIssue.campaign_id == cid)).all()
        assert [r.language for r in rows] == ["en"] and "Hello." in rows[0].html
        s.execute(update(ArchivedIssue).values(html="<p>as stored at start</p>"))
    r = client.get("/archive/nine")
    assert "<p>as stored at start</p>" in r.text and "Hello." not in r.text
    head = client.head("/archive/nine")
    assert head.status_code == 200 and head.content == b""


def test_a_campaign_started_before_snapshots_gets_one_on_first_view(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    cid = _send(engine, _issue(tmp_path / "issue", "nine.md", "<script>x()</script>Hi.\n"))
    with session_scope(engine) as s:
        s.execute(delete(ArchivedIssue))
    assert "Hi." in client.get("/archive/nine").text
    with session_scope(engine) as s:
        rows = s.scalars(select(ArchivedIssue).where(ArchivedIssue.campaign_id == cid)).all()
        assert len(rows) == 1 and "<script" not in rows[0].html


def test_language_variants_are_stored_and_chosen(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "issue"
    _issue(folder, "nine.zh.md", "{{ subscriber.name }}，您好！\n", language="zh")
    _send(engine, _issue(folder, "nine.md", "Hello {{ subscriber.name }}!\n"))
    en = client.get("/archive/nine")
    assert 'lang="en"' in en.text and "Hello reader!" in en.text
    zh = client.get("/archive/nine?lang=zh-CN")
    assert 'lang="zh"' in zh.text and "读者，您好！" in zh.text and "2026年11月20日" in zh.text


def test_the_list_shows_the_issue_date_and_answers_head(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    _send(engine, _issue(tmp_path / "issue", "nine.md", "Hello.\n"))
    r = client.get("/archive")
    assert r.status_code == 200 and "2026-11-20" in r.text and 'href="/archive/nine"' in r.text
    head = client.head("/archive")
    assert head.status_code == 200 and head.content == b""
