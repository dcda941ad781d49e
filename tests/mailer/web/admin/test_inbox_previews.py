"""Inbox previews in the console: an editor's button in a real browser, and who may fetch them.

The browser test keeps the console's Content-Security-Policy (no bypass):
the images must load from 'self'.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.browser import browser
from tests.mailer.helpers import EXAMPLE
from tests.mailer.web.admin.conftest import csrf_of
from tests.mailer.web.admin.test_console_browser import (
    axe_source,
    check_accessibility,
    live,
    log_in,
    shot,
)
from tests.mailer.web.staff import Staff
from tests.smtp_server import SmtpServer

__all__ = ["live"]  # the live console fixture, shared with the editor's journey
IMAGE = re.compile(r'src="(/admin/issues/1/inbox-previews/[0-9a-f]{32}/(desktop|phone|dark)\.png)"')


@pytest.fixture(autouse=True)
def own_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache goes to this test's folder, not the machine's temp folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_the_editor_renders_and_sees_inbox_previews(live: tuple[str, Any, SmtpServer]) -> None:
    base, _engine, _smtp = live
    with browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})  # the CSP holds
        log_in(page, base, "editor")
        page.get_by_label("Markdown or HTML file with front matter").set_input_files(str(EXAMPLE))
        with page.expect_navigation():
            page.get_by_role("button", name="Upload").click()
        with page.expect_navigation(timeout=90_000):
            page.get_by_role("button", name="Inbox previews").click()
        assert "/admin/issues/1/inbox-previews?lang=en&v=1" in page.url
        page.wait_for_function(
            "() => [...document.querySelectorAll('.shots img')].every(i => i.complete)",
            timeout=30_000,
        )
        sizes = page.evaluate(
            "() => [...document.querySelectorAll('.shots img')]"
            ".map(i => [i.getAttribute('src').split('/').pop(), i.naturalWidth, i.naturalHeight])"
        )
        shot(page, "12-inbox-previews")
        check_accessibility(page, axe_source(), "inbox-previews")
    assert [(name, width) for name, width, _ in sizes] == [
        ("desktop.png", 600),
        ("phone.png", 375),
        ("dark.png", 600),
    ]
    assert all(height > 400 for _, _, height in sizes), sizes


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_only_editors_fetch_the_images_and_unknown_ids_are_404(
    console: tuple[TestClient, Staff], login: Callable[[str], TestClient]
) -> None:
    c, _ = console
    editor = login("editor")
    form = editor.get("/admin/issues").text
    r = editor.post(
        "/admin/issues/upload",
        files={"file": ("issue.md", EXAMPLE.read_bytes(), "text/markdown")},
        data={"csrf": csrf_of(form)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    issue = editor.get("/admin/issues/1").text
    assert "Inbox previews" in issue
    # Without the CSRF token nothing is rendered.
    assert editor.post("/admin/issues/1/inbox-previews", data={"lang": "en"}).status_code == 403
    r = editor.post(
        "/admin/issues/1/inbox-previews",
        data={"csrf": csrf_of(issue), "lang": "en", "v": "1"},
        follow_redirects=True,
    )
    assert r.status_code == 200, r.text
    urls = [m.group(1) for m in IMAGE.finditer(r.text)]
    assert [u.rsplit("/", 1)[1] for u in urls] == ["desktop.png", "phone.png", "dark.png"]
    got = editor.get(urls[1])
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert _png_size(got.content)[0] == 375
    key = urls[0].split("/")[-2]
    for path in (
        f"/admin/issues/1/inbox-previews/{'0' * 32}/desktop.png",  # a key never made
        f"/admin/issues/2/inbox-previews/{key}/desktop.png",  # another issue's folder
        f"/admin/issues/1/inbox-previews/{key}/message.png",  # not a view
        f"/admin/issues/1/inbox-previews/{key[:-1]}g/desktop.png",  # not hex
        f"/admin/issues/1/inbox-previews/..%2F..%2F{key}/desktop.png",
        f"/admin/issues/1/inbox-previews/{key}/..%2Fdesktop.png",
    ):
        assert editor.get(path).status_code == 404, path
    viewer = login("viewer")
    assert "Inbox previews" not in viewer.get("/admin/issues/1").text
    assert viewer.get(urls[0]).status_code == 403
    assert viewer.get("/admin/issues/1/inbox-previews").status_code == 403
    c.cookies.clear()
    anonymous = c.get(urls[0], follow_redirects=False)
    assert anonymous.status_code == 303 and "/admin/login" in anonymous.headers["location"]
    assert (Path(tempfile.gettempdir()) / f"mailer-previews-{os.getuid()}" / "1").is_dir()


def test_only_the_newest_sets_are_kept(tmp_path: Path) -> None:
    from mailer.web.admin.previews import KEEP, _prune

    names = [f"{i:032x}" for i in range(KEEP + 2)]
    for i, name in enumerate(names):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (1_000_000 + i, 1_000_000 + i))
    (tmp_path / ".work-x").mkdir()  # a render under way is not a set
    _prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".work-x", *names[2:]])
