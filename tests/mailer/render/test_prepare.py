import re
from pathlib import Path

import pytest

from mailer.content import load_issue_set
from mailer.errors import ContentError
from mailer.render import Audience, prepare_issue
from tests.mailer.helpers import example_prepared

AUDIENCE = Audience("News", "news", base_url="https://n.example")
VALUES = {
    "name": "Li Wei",
    "email": "li@example.org",
    "unsubscribe_url": "https://n.example/unsubscribe/T0K&N",
    "preferences_url": "https://n.example/p/X",
}


def test_example_renders_every_part_once_per_issue() -> None:
    variant = example_prepared().for_language("en")
    html = variant.html.fill_html(VALUES)
    assert html.count('class="speaker-name"') == 20
    for name in ("Chen Zihua", "Dimitri de Boer", "Kevin May", "Teng Yue"):
        assert f">{name}</p>" in html
    assert "澜沧江-湄公河环境合作中心" in html and "Issue 7, 2021" in html
    assert "September 30th, 2021" in html and "Contact Us" in html and "About LMEC:" in html
    # CSS is inlined; media queries stay in a <style> block.
    assert 'class="speaker-cell" style="' in html
    assert re.search(r"<style[^>]*>\s*@media only screen and \(max-width: 620px\)", html)
    assert ".speaker-cell {" not in html.split("@media", 1)[0]
    # The per-recipient link survived premailer and is escaped for HTML.
    assert 'href="https://n.example/unsubscribe/T0K&amp;N"' in html
    assert not re.search(r"Zq[0-9a-f]{8}f\d+qZ", html)  # no sentinel left behind
    text = variant.text.fill(VALUES)
    assert "Unsubscribe: https://n.example/unsubscribe/T0K&N" in text
    assert text.count("\n\nCHEN ZIHUA\n") == 1


def test_body_may_use_subscriber_fields(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(
        "---\nsubject: Hi\n---\nDear {{ subscriber.name }} from "
        "{{ subscriber.attributes.country }}, {{ issue.subject }}.\n",
        encoding="utf-8",
    )
    variant = prepare_issue(load_issue_set(path), AUDIENCE).for_language(None)
    html = variant.html.fill_html({**VALUES, "name": "<Li & Wei>", "attr.country": "Laos"})
    assert "Dear &lt;Li &amp; Wei&gt; from Laos, Hi." in html
    assert "Dear <Li & Wei> from Laos, Hi." in variant.text.fill(
        {**VALUES, "name": "<Li & Wei>", "attr.country": "Laos"}
    )


@pytest.mark.parametrize(
    ("body", "message", "line"),
    [
        ("Line one\n\n{{ nosuchvar }}\n", "'nosuchvar' is undefined", 6),
        ("Fine\n{% if %}\n", "template error", 5),
        ("{{ subscriber.phone }}\n", "subscriber has no field 'phone'", 4),
    ],
)
def test_template_errors_name_file_and_line(
    tmp_path: Path, body: str, message: str, line: int
) -> None:
    path = tmp_path / "bad.md"
    path.write_text(f"---\nsubject: Hi\n---\n{body}", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        prepare_issue(load_issue_set(path), AUDIENCE)
    assert message in str(err.value)
    assert err.value.line == line


def test_sandbox_blocks_unsafe_attributes(tmp_path: Path) -> None:
    path = tmp_path / "evil.md"
    path.write_text("---\nsubject: Hi\n---\n{{ issue.__class__.__mro__ }}\n", encoding="utf-8")
    with pytest.raises(ContentError, match="template error"):
        prepare_issue(load_issue_set(path), AUDIENCE)


def test_chinese_variant_gets_chinese_footer(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text(
        "---\nsubject: News\nslug: n\nissue: 3\ndate: 2024-05-01\n---\nHello\n", encoding="utf-8"
    )
    (tmp_path / "n.zh.md").write_text(
        "---\nsubject: 新闻\nslug: n\nlanguage: zh\nissue: 3\ndate: 2024-05-01\n---\n你好\n",
        encoding="utf-8",
    )
    prepared = prepare_issue(load_issue_set(tmp_path / "n.md"), AUDIENCE)
    zh = prepared.for_language("zh-CN").html.fill_html(VALUES)
    assert 'lang="zh"' in zh and "退订" in zh and "2024年第3期" in zh and "2024年5月1日" in zh
    assert prepared.for_language("zh").view_url.endswith("/archive/n?lang=zh")
    assert prepared.for_language("en").view_url.endswith("/archive/n")
