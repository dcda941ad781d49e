import datetime as dt
from pathlib import Path

import pytest

from mailer.content import load_issue, load_issue_set
from mailer.errors import ContentError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples/issues/lmec-2021-issue-7.md"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_issue_front_matter() -> None:
    issue = load_issue(EXAMPLE)
    assert issue.subject.startswith("LMEC Newsletter, Issue 7, 2021")
    assert issue.number == 7 and issue.date == dt.date(2021, 9, 30)
    assert issue.masthead == (
        "澜沧江-湄公河环境合作中心",
        "Lancang-Mekong Environmental Cooperation Center",
    )
    assert issue.slug == "lmec-2021-issue-7" and issue.language == "en"
    assert issue.body.count("::: speaker ") == 20


@pytest.mark.parametrize(
    ("front", "message", "line"),
    [
        ("subject: Hi\ncolour: red\n", "unknown front-matter key 'colour'", 3),
        ("title: No subject\n", "subject: missing", 1),
        ("subject: Hi\ndate: 30 September\n", "date: '30 September' is not a date", 3),
        ("subject: Hi\nissue: seven\n", "issue: 'seven' is not an issue number", 3),
        ("subject: Hi\nlanguage: english please\n", "language:", 3),
        ("subject: [unclosed\n", "front matter is not valid YAML", None),
        ("subject: Hi\nslug: Not A Slug\n", "slug:", 3),
    ],
)
def test_front_matter_errors_name_file_and_line(
    tmp_path: Path, front: str, message: str, line: int | None
) -> None:
    path = write(tmp_path, "bad.md", f"---\n{front}---\nBody\n")
    with pytest.raises(ContentError) as err:
        load_issue(path)
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))
    if line is not None:
        assert err.value.line == line


def test_missing_front_matter_and_files(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="must start with front matter"):
        load_issue(write(tmp_path, "a.md", "# Just text\n"))
    with pytest.raises(ContentError, match="not closed"):
        load_issue(write(tmp_path, "b.md", "---\nsubject: x\n"))
    with pytest.raises(ContentError, match="no such file"):
        load_issue(tmp_path / "missing.md")
    with pytest.raises(ContentError, match="unknown kind of file"):
        load_issue(write(tmp_path, "c.txt", "---\nsubject: x\n---\n"))


def test_language_variants_share_a_slug(tmp_path: Path) -> None:
    en = write(tmp_path, "n7.md", "---\nsubject: News\nslug: n7\n---\nHello\n")
    write(tmp_path, "n7.zh.md", "---\nsubject: 新闻\nslug: n7\nlanguage: zh-CN\n---\n你好\n")
    write(tmp_path, "other.md", "---\nsubject: Other\nslug: other\n---\nx\n")
    issues = load_issue_set(en)
    assert set(issues.variants) == {"en", "zh-CN"}
    assert issues.for_language("zh-CN").subject == "新闻"
    assert issues.for_language("zh").subject == "新闻"  # primary language matches
    assert issues.for_language("th").subject == "News"  # falls back to the default
    assert issues.for_language(None).subject == "News"
    write(tmp_path, "n7.dup.md", "---\nsubject: Dup\nslug: n7\nlanguage: zh-CN\n---\nx\n")
    with pytest.raises(ContentError, match="already the 'zh-CN' variant"):
        load_issue_set(en)


@pytest.mark.parametrize("value", ["2026-12-01 09:00", "2026-12-01 09:00:00", "2026-12-01T09:00"])
def test_a_date_with_a_time_says_expected_a_date(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "timed.md", f"---\nsubject: Hi\ndate: {value}\n---\nBody\n")
    with pytest.raises(ContentError) as err:
        load_issue(path)
    assert "expected a date such as 2021-09-30, not a time (2026-12-01 09:00)" in str(err.value)
    assert "datetime.datetime" not in str(err.value)
