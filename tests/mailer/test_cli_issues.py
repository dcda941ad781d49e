import email
import email.policy
import json
from pathlib import Path

from click.testing import CliRunner

from mailer.cli import cli
from tests.mailer.helpers import EXAMPLE
from tests.smtp_server import SmtpServer


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), env=env or {})
    assert "Traceback" not in result.output
    return result


def test_render_html_text_and_eml(workdir: Path) -> None:
    html = invoke("issues", "render", str(EXAMPLE))
    assert html.exit_code == 0 and "Chen Zihua" in html.output and "<table" in html.output
    text = invoke("issues", "render", str(EXAMPLE), "--format", "text")
    assert "CHEN ZIHUA" in text.output and "<table" not in text.output
    out = workdir / "issue.eml"
    assert (
        invoke("issues", "render", str(EXAMPLE), "--format", "eml", "-o", str(out)).exit_code == 0
    )
    msg = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "reader@example.org"
    assert msg.get_body(("html",)) is not None and msg.get_body(("plain",)) is not None


def test_render_for_a_real_subscriber(workdir: Path, db_url: str) -> None:
    env = {"MAILER_DATABASE_URL": db_url}
    assert (
        invoke("lists", "create", "lmec-news", "--title", "LMEC Newsletter", env=env).exit_code == 0
    )
    assert (
        invoke(
            "subscribers",
            "add",
            "li@example.org",
            "--list",
            "lmec-news",
            "--name",
            "Li Wei",
            env=env,
        ).exit_code
        == 0
    )
    r = invoke(
        "issues",
        "render",
        str(EXAMPLE),
        "--subscriber",
        "li@example.org",
        "--format",
        "eml",
        env=env,
    )
    assert r.exit_code == 0
    msg = email.message_from_bytes(r.stdout_bytes, policy=email.policy.default)
    assert msg["To"].addresses[0].display_name == "Li Wei"
    assert msg["List-Id"] == "LMEC Newsletter <lmec-news.localhost>"
    missing = invoke("issues", "render", str(EXAMPLE), "--subscriber", "no@example.org", env=env)
    assert missing.exit_code == 1 and "no subscriber" in missing.output


def test_test_send_goes_through_smtp(workdir: Path) -> None:
    with SmtpServer() as server:
        env = {
            "MAILER_SMTP_HOST": "127.0.0.1",
            "MAILER_SMTP_PORT": str(server.port),
            "MAILER_FROM": "LMEC <news@example.org>",
        }
        r = invoke("issues", "test", str(EXAMPLE), "--to", "editor@example.org", "--json", env=env)
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["code"] == 250
        got = server.handler.by_recipient()["editor@example.org"]
    msg = email.message_from_bytes(got[0].data, policy=email.policy.default)
    assert str(msg["Subject"]).startswith("[TEST] LMEC Newsletter")
    bad = invoke("issues", "test", str(EXAMPLE), "--to", "not an address")
    assert bad.exit_code == 1 and "email" in bad.output


def test_check_passes_the_example_and_fails_a_broken_issue(workdir: Path) -> None:
    ok = invoke("issues", "check", str(EXAMPLE))
    assert ok.exit_code == 0 and "no problems found" in ok.output
    bad = workdir / "bad.md"
    bad.write_text(
        "---\nsubject: x\n---\n![](https://x.example/a.png) [f](ftp://x.example)\n",
        encoding="utf-8",
    )
    r = invoke("issues", "check", str(bad), "--json")
    assert r.exit_code == 1
    report = json.loads(r.output)
    assert report["ok"] is False
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert len(errors) == 2
    assert all(p["file"] == str(bad) and p["line"] == 4 for p in errors), errors
    broken = workdir / "broken.md"
    broken.write_text("---\nsubject: x\nbogus: 1\n---\nx\n", encoding="utf-8")
    r = invoke("issues", "check", str(broken))
    assert r.exit_code == 1 and "broken.md:3: unknown front-matter key 'bogus'" in r.output
    # Under --json a file that does not load is a problem object too.
    r = invoke("issues", "check", str(broken), "--json")
    assert r.exit_code == 1
    (problem,) = json.loads(r.output)["problems"]
    assert problem["message"].startswith("unknown front-matter key 'bogus'")
    assert (problem["file"], problem["line"], problem["severity"]) == (str(broken), 3, "error")


def test_check_warns_about_an_incomplete_footer(workdir: Path) -> None:
    bare = invoke("issues", "check", str(EXAMPLE), "--json")
    report = json.loads(bare.output)
    assert bare.exit_code == 0 and report["ok"] is True
    assert report["problems"] == [
        {
            "file": "settings",
            "line": None,
            "severity": "warning",
            "message": "the footer has no organization: set organization (MAILER_ORGANIZATION)",
        },
        {
            "file": "settings",
            "line": None,
            "severity": "warning",
            "message": "the footer has no postal address: set postal_address (MAILER_POSTAL_ADDRESS)",
        },
    ]
    env = {"MAILER_ORGANIZATION": "LMEC", "MAILER_POSTAL_ADDRESS": "No.5 Houyingfang Hutong"}
    full = invoke("issues", "check", str(EXAMPLE), "--json", env=env)
    assert json.loads(full.output)["problems"] == []


def test_preview_writes_screenshots_and_the_text_part(workdir: Path) -> None:
    from tests.browser import chromium_path

    chromium = chromium_path()
    issue = workdir / "short.md"
    issue.write_text(
        "---\nsubject: Short\n---\n| a | b |\n|---|---|\n| 1 | 2 |\n", encoding="utf-8"
    )
    r = invoke(
        "issues", "preview", str(issue), "-o", str(workdir / "p"), "--chromium", chromium, "--json"
    )
    assert r.exit_code == 0, r.output
    files = sorted(Path(f).name for f in json.loads(r.output)["files"])
    assert files == ["dark.png", "desktop.png", "message.eml", "phone.png", "text.txt"]
    assert "| a | b |" not in (workdir / "p/text.txt").read_text(encoding="utf-8")
    bad = invoke("issues", "preview", str(issue), "-o", str(workdir / "q"), "--chromium", "/nope")
    assert bad.exit_code == 1 and "no Chromium found at /nope" in bad.output


def test_other_files_beside_an_issue_are_noted_not_fatal(workdir: Path) -> None:
    folder = workdir / "issues"
    folder.mkdir()
    issue = folder / "nine.md"
    issue.write_text("---\nsubject: Nine\n---\nBody\n", encoding="utf-8")
    (folder / "README.md").write_text("# About these issues\n", encoding="utf-8")
    (folder / "nine.html").write_text("<html></html>", encoding="utf-8")
    r = invoke("issues", "check", str(issue))
    assert r.exit_code == 0, r.output
    assert f"note: {folder / 'README.md'}: ignored (no front matter, so not an issue)" in r.stderr
    assert f"note: {folder / 'nine.html'}: ignored" in r.stderr
