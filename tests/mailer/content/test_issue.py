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


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2026-13-45", "date: 2026-13-45 is not a date (month must be in 1..12)"),
        ("2026-02-30", "date: 2026-02-30 is not a date (day is out of range for month)"),
        ("'2026-02-30'", "date: 2026-02-30 is not a date (day is out of range for month)"),
        (
            "2026-02-03 10:00",
            "date: expected a date such as 2021-09-30, not a time (2026-02-03 10:00)",
        ),
    ],
)
def test_impossible_dates_name_file_and_line(tmp_path: Path, date: str, message: str) -> None:
    path = tmp_path / "a.md"
    path.write_text(f"---\nsubject: Hi\ndate: {date}\n---\nBody\n", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        load_issue(path)
    assert str(err.value) == f"{path}:3: {message}"


def test_dates_still_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\nsubject: 2026-01-02\ndate: 2026-1-5\n---\nBody\n", encoding="utf-8")
    issue = load_issue(path)
    assert issue.date == dt.date(2026, 1, 5) and issue.subject == "2026-01-02"


@pytest.mark.parametrize(
    ("front", "line"),
    [
        ('subject: "unclosed\ntitle: x\n', 2),
        ("subject: [a, b\ntitle: x\n", 2),
        ("subject: a\ntitle: 'x\nlanguage: en\n", 3),
        ("subject: a\n  bad: indent\ntitle: x\n", 3),
        ("subject: a\n- x\n", 3),
        ("subject: a: b\n", 2),
    ],
)
def test_broken_yaml_points_at_the_line_to_fix(tmp_path: Path, front: str, line: int) -> None:
    path = tmp_path / "a.md"
    path.write_text(f"---\n{front}---\nBody\n", encoding="utf-8")
    with pytest.raises(ContentError, match="front matter is not valid YAML") as err:
        load_issue(path)
    assert err.value.line == line


def test_other_files_in_the_folder_are_ignored_with_a_note(tmp_path: Path) -> None:
    issue = tmp_path / "nine.md"
    issue.write_text("---\nsubject: Nine\n---\nBody\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# About these issues\n", encoding="utf-8")
    (tmp_path / "nine.html").write_text("<!DOCTYPE html><html>…</html>", encoding="utf-8")
    (tmp_path / "nine.zh.md").write_text(
        "---\nsubject: 九\nslug: nine\nlanguage: zh\n---\n正文\n", encoding="utf-8"
    )
    issues = load_issue_set(issue)
    assert sorted(issues.variants) == ["en", "zh"]
    assert issues.notes == (
        f"{tmp_path / 'README.md'}: ignored (no front matter, so not an issue)",
        f"{tmp_path / 'nine.html'}: ignored (no front matter, so not an issue)",
    )
    # A file that is an issue but broken still stops the send.
    (tmp_path / "nine.fr.md").write_text("---\nsubject: [x\n---\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"nine\.fr\.md:2"):
        load_issue_set(issue)


@pytest.mark.parametrize("value", ["2026-12-01 09:00", "2026-12-01 09:00:00", "2026-12-01T09:00"])
def test_a_date_with_a_time_says_expected_a_date(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "timed.md", f"---\nsubject: Hi\ndate: {value}\n---\nBody\n")
    with pytest.raises(ContentError) as err:
        load_issue(path)
    assert "expected a date such as 2021-09-30, not a time (2026-12-01 09:00)" in str(err.value)
    assert "datetime.datetime" not in str(err.value)
