"""The example issue in a real browser, at desktop (600 px) and phone (375 px) widths."""

from pathlib import Path

import pytest

from tests.browser import artifact, browser
from tests.mailer.helpers import example_prepared

VALUES = {
    "name": "Li Wei",
    "email": "li@example.org",
    "unsubscribe_url": "https://news.example.org/unsubscribe/abc",
    "preferences_url": "https://news.example.org/preferences/abc",
}


@pytest.mark.parametrize("width", [600, 375])
def test_example_issue_fits_the_screen(width: int, tmp_path: Path) -> None:
    page_file = tmp_path / "issue.html"
    page_file.write_text(
        example_prepared().for_language("en").html.fill_html(VALUES), encoding="utf-8"
    )
    with browser() as b:
        page = b.new_page(viewport={"width": width, "height": 900})
        page.goto(page_file.as_uri())
        shot = artifact(f"issue-{width}px.png")
        page.screenshot(path=str(shot), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        speakers = page.locator(".speaker-name").count()
        footer_link = page.get_by_role("link", name="Unsubscribe")
        container = page.evaluate(
            "document.querySelector('.container').getBoundingClientRect().width"
        )
        footer_visible = footer_link.is_visible()
    assert shot.stat().st_size > 10_000
    assert overflow <= 0, f"{overflow}px of horizontal overflow at {width}px"
    assert speakers == 20 and footer_visible
    assert container <= width
    if width == 600:
        assert container == 600
