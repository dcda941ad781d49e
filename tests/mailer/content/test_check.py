from pathlib import Path

from mailer.content import load_issue
from mailer.content.check import ERROR, GMAIL_CLIP, WARNING, check_footer, check_markup, check_size

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
        f"{path}:8: warning: image https://a.example/p.png has no width: Outlook shows it at full size (use <img width=…> rather than Markdown's ![]())",
        f"{path}:10: link 'ftp://x' is not an http(s) or mailto link",
    ]
    assert check_size(load_issue(path), GMAIL_CLIP + 1)[0].message.startswith("the HTML is")
    assert check_size(load_issue(path), GMAIL_CLIP) == []


def test_relative_urls_scripts_and_images_without_width(tmp_path: Path) -> None:
    path = tmp_path / "i.md"
    path.write_text(
        "---\nsubject: x\n---\n"
        "[about](/about) [page](page.html) [js](javascript:alert(1))\n\n"
        '<a href="JavaScript:alert(1)">x</a> <a href="../up">up</a>\n\n'
        '<img src="logo.png" alt="Logo" width="120"> <img src="https://a.example/b.png" alt="B">\n\n'
        "<script>alert(1)</script>\n\n"
        '<p onclick="steal()">hi</p>\n\n'
        '<img src="https://a.example/ok.png" alt="OK" width="600"> [ok](https://a.example/x)\n',
        encoding="utf-8",
    )
    # (markdown-it itself refuses [js](javascript:…): it stays text, never a link.)
    found = [
        (p.where.rsplit(":", 1)[1], p.level, p.message) for p in check_markup(load_issue(path))
    ]
    assert found == [
        ("4", ERROR, "link '/about' is relative: from a mailbox it leads nowhere; use https://…"),
        (
            "4",
            ERROR,
            "link 'page.html' is relative: from a mailbox it leads nowhere; use https://…",
        ),
        ("6", ERROR, "link 'JavaScript:alert(1)' is a javascript: link: mail clients remove it"),
        ("6", ERROR, "link '../up' is relative: from a mailbox it leads nowhere; use https://…"),
        ("8", ERROR, "image 'logo.png' is relative: it cannot load in a mailbox; use https://…"),
        (
            "8",
            WARNING,
            "image https://a.example/b.png has no width: Outlook shows it at full size (use <img width=…> rather than Markdown's ![]())",
        ),
        ("10", ERROR, "<script> in an issue: mail clients remove it and filters score it"),
        ("12", ERROR, "event handler onclick= on <p>: scripts never run in mail"),
    ]


def test_an_html_issue_is_checked_too(tmp_path: Path) -> None:
    path = tmp_path / "i.html"
    path.write_text(
        '---\nsubject: x\n---\n<p><a href="javascript:void(0)">x</a></p>\n<script src="x.js"></script>\n',
        encoding="utf-8",
    )
    messages = [p.message for p in check_markup(load_issue(path))]
    assert any("javascript:" in m for m in messages) and any("<script>" in m for m in messages)


def test_footer_settings_that_leave_it_incomplete() -> None:
    assert check_footer("LMEC", "No.5 Houyingfang Hutong, Beijing", "settings") == []
    problems = check_footer("", " ", "settings")
    assert [str(p) for p in problems] == [
        "settings: warning: the footer has no organization: set organization (MAILER_ORGANIZATION)",
        "settings: warning: the footer has no postal address: set postal_address (MAILER_POSTAL_ADDRESS)",
    ]
