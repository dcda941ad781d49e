from pathlib import Path

from mailer.content import load_issue
from mailer.content.check import GMAIL_CLIP, check_markup, check_size

EXAMPLE = Path(__file__).resolve().parents[3] / "examples/issues/lmec-2021-issue-7.md"


def test_example_issue_is_clean() -> None:
    assert check_markup(load_issue(EXAMPLE)) == []


def test_bad_links_and_missing_alt_text_are_found_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "i.md"
    path.write_text(
        "---\nsubject: x\n---\nIntro\n\n[ok](https://a.example) [bad](ftp://files.example/x)\n\n"
        '![](https://a.example/p.png)\n\n<a href="ftp://x">ftp</a>\n',
        encoding="utf-8",
    )
    problems = [str(p) for p in check_markup(load_issue(path))]
    assert problems == [
        f"{path}:6: link 'ftp://files.example/x' is not an http(s) or mailto link",
        f"{path}:8: image https://a.example/p.png has no alt text",
        f"{path}:10: link 'ftp://x' is not an http(s) or mailto link",
    ]
    assert check_size(load_issue(path), GMAIL_CLIP + 1)[0].message.startswith("the HTML is")
    assert check_size(load_issue(path), GMAIL_CLIP) == []
