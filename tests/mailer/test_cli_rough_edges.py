"""Rough edges a new user met in the subscriber and list commands (issue 14)."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailer.cli import cli
from tests.mailer.helpers import EXAMPLE

Run = Callable[..., Result]
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def run(workdir: Path, db_url: str) -> Run:
    runner = CliRunner()

    def invoke(*args: str, input: bytes | str | None = None) -> Result:
        result = runner.invoke(cli, list(args), env={"MAILER_DATABASE_URL": db_url}, input=input)
        assert "Traceback" not in result.output
        return result

    assert invoke("lists", "create", "news", "--single-opt-in").exit_code == 0
    return invoke


def test_import_reads_standard_input(run: Run) -> None:
    data = "email,name\nli@example.org,李伟\nli@example.org,\nbad\n".encode()
    result = run("subscribers", "import", "-", "--list", "news", "--json", input=data)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["duplicates"]) == (1, 1)
    assert [r["line"] for r in report["rejected"]] == [4]
    shown = json.loads(run("subscribers", "show", "li@example.org", "--json").stdout)
    assert shown["subscriber"]["consent"]["source"] == "import:stdin"


def test_duplicate_lines_are_counted_with_the_right_plural(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "dupes.csv"
    path.write_text("email\na@example.org\nA@example.org\na@EXAMPLE.org\n", encoding="utf-8")
    result = run("subscribers", "import", str(path), "--list", "news")
    assert "(2 duplicate lines merged into earlier ones)" in result.output


def test_export_for_excel_starts_with_a_bom_and_imports_back(run: Run, tmp_path: Path) -> None:
    assert (
        run("subscribers", "add", "li@example.org", "--list", "news", "--name", "李伟").exit_code
        == 0
    )
    to_stdout = run("subscribers", "export", "--excel")
    assert to_stdout.stdout_bytes.startswith(BOM + b"email,name,language")
    assert "李伟".encode() in to_stdout.stdout_bytes
    assert not run("subscribers", "export").stdout_bytes.startswith(BOM)
    out = tmp_path / "excel.csv"
    assert run("subscribers", "export", "--excel", "-o", str(out)).exit_code == 0
    assert out.read_bytes().startswith(BOM + b"email,")
    again = json.loads(run("subscribers", "import", str(out), "--list", "news", "--json").stdout)
    assert (again["unchanged"], again["rejected"]) == (1, [])


def test_removing_a_list_with_campaigns_is_a_clear_error(run: Run) -> None:
    assert run("subscribers", "add", "a@example.org", "--list", "news").exit_code == 0
    sent = run("send", str(EXAMPLE), "--list", "news", "--at", "2030-01-01 09:00")
    assert sent.exit_code == 0, sent.output
    result = run("lists", "rm", "news", "--yes")
    assert result.exit_code == 1
    assert "list 'news' has 1 campaign, whose delivery history refers to it" in result.output
    assert json.loads(run("lists", "show", "news", "--json").stdout)["counts"]["confirmed"] == 1


def test_show_gives_the_time_of_unsubscribing(run: Run) -> None:
    assert run("subscribers", "add", "a@example.org", "--list", "news").exit_code == 0
    assert run("subscribers", "unsubscribe", "a@example.org", "--list", "news").exit_code == 0
    info = json.loads(run("subscribers", "show", "a@example.org", "--json").stdout)
    subscription = info["subscriber"]["subscriptions"][0]
    assert subscription["unsubscribed_at"]
    text = run("subscribers", "show", "a@example.org").output
    assert f"list news: unsubscribed at {subscription['unsubscribed_at']}" in text


def test_names_with_control_characters_are_refused_by_add(run: Run) -> None:
    for name in ("Eve\x1b[31m", "Bell\x07", "C1\x9b"):
        result = run("subscribers", "add", "e@example.org", "--list", "news", "--name", name)
        assert result.exit_code == 1 and "name: contains the control character" in result.output
        assert "\x1b" not in result.output and "\x07" not in result.output


@pytest.mark.parametrize(
    "args", [["lists", "ls"], ["subscribers", "ls"], ["campaigns", "ls"], ["bounces", "ls"]]
)
def test_no_settings_no_database_file_made(workdir: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args, env={})
    assert result.exit_code == 1
    assert "to start, run `mailer init`" in result.output
    assert list(workdir.iterdir()) == []


def test_an_unknown_status_is_a_usage_error_naming_the_choices(run: Run) -> None:
    for command in (["subscribers", "ls"], ["subscribers", "export"]):
        result = run(*command, "--status", "bogus")
        assert result.exit_code == 2, result.output
        assert "'bogus' is not one of 'unconfirmed', 'confirmed', 'unsubscribed'" in result.output
    as_json = run("subscribers", "ls", "--status", "bogus", "--json")
    assert as_json.exit_code == 2 and json.loads(as_json.stdout)["code"] == "usage"


def test_an_output_path_that_cannot_be_written_is_a_clear_error(run: Run, tmp_path: Path) -> None:
    # A regular file where a folder should be: no user (root included) can write below it.
    box = tmp_path / "box"
    box.mkdir()
    blocker = box / "a-file"
    blocker.write_text("x")
    below = blocker / "out"
    commands = [
        ["subscribers", "export", "-o", str(below / "x.csv")],
        ["issues", "render", str(EXAMPLE), "-o", str(below / "x.html")],
        # The folder is made before Chromium starts, so any existing file stands in for it.
        ["issues", "preview", str(EXAMPLE), "-o", str(below), "--chromium", str(blocker)],
    ]
    for command in commands:
        result = run(*command)
        assert result.exit_code == 1, (command, result.output, result.exception)
        assert f"Error: cannot write {below}" in result.output, result.output
        assert "Not a directory" in result.output
    assert blocker.read_text() == "x" and list(box.iterdir()) == [blocker]
