"""Secrets, file modes, the demo's workspace and terminal-safe output (issue 9 item 9)."""

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from mailer.cli import cli
from mailer.db import make_engine, session_scope
from subscribers import members
from subscribers.models import Subscriber

PASSWORD = "s3cr3t-Pa55@word"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_password_in_database_url_is_never_printed(workdir: Path) -> None:
    runner = CliRunner()
    unreachable = f"postgresql://mailer:{PASSWORD}@127.0.0.1:9/mailer"
    for args, env in [
        (["init", "--database-url", unreachable], {}),
        (["init", "--database-url", f"nonsense:{PASSWORD}@x"], {}),
        (["lists", "ls"], {"MAILER_DATABASE_URL": unreachable}),
        (["lists", "ls", "--json"], {"MAILER_DATABASE_URL": unreachable}),
        (["db", "upgrade"], {"MAILER_DATABASE_URL": f"postgresql://u:{PASSWORD}@/x?host=/nope"}),
        (["lists", "ls"], {"MAILER_DATABASE_URL": f"nonsense://u:{PASSWORD}@host/x"}),
    ]:
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        assert PASSWORD not in result.output and "Pa55" not in result.output, result.output
    assert not (workdir / "mailer.toml").exists()


# A SQLite URL has no password: the case needs a server URL.
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_init_output_hides_the_password(workdir: Path, db_url: str) -> None:
    from sqlalchemy.engine import make_url

    with_password = make_url(db_url).set(password=PASSWORD).render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["init", "--database-url", with_password], env={})
    assert result.exit_code == 0, result.output  # trust auth ignores the password
    assert PASSWORD not in result.output and "***" in result.output


def test_a_settings_type_error_names_the_field_not_the_secret(workdir: Path) -> None:
    (workdir / "mailer.toml").write_text("smtp_password = 987654321\nsecret_key = 12345678\n")
    result = CliRunner().invoke(cli, ["lists", "ls"], env={})
    assert result.exit_code == 1
    assert "smtp_password: expected text, got int (the value is not shown)" in result.output
    assert "secret_key: expected text" in result.output
    assert "987654321" not in result.output and "12345678" not in result.output
    env = {"MAILER_SMTP_PORT": "twenty-five"}  # not secret: the value helps
    result = CliRunner().invoke(cli, ["lists", "ls"], env=env)
    assert "'twenty-five'" in result.output


def test_settings_file_and_database_are_private_from_the_start(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.umask(0o022)
    seen: list[int] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(mode(Path(src)))  # the file as it was before it took its name
        real_replace(src, dst)

    monkeypatch.setattr("mailer.cli.setup.os.replace", spy)
    result = CliRunner().invoke(cli, ["init"], env={})
    assert result.exit_code == 0, result.output
    assert seen == [0o600]
    assert mode(workdir / "mailer.toml") == 0o600
    assert mode(workdir / "mailer.db") == 0o600
    assert [p.name for p in workdir.iterdir() if p.name.endswith(".tmp")] == []


def test_demo_refuses_a_folder_it_did_not_make(workdir: Path) -> None:
    mine = workdir / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("four years of work")
    result = CliRunner().invoke(cli, ["demo", "--workspace", str(mine)], env={})
    assert result.exit_code == 1
    assert "not empty and was not made by `mailer demo`" in result.output
    assert (mine / "thesis.txt").read_text() == "four years of work"
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.txt"]


def test_demo_twice_in_its_own_folder_and_its_closing_lines(workdir: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--workspace", "demo-workspace"], env={})
    assert first.exit_code == 0, first.output
    leftover = workdir / "demo-workspace" / "preview.html"
    assert leftover.exists()
    again = runner.invoke(cli, ["demo", "--workspace", "demo-workspace"], env={})
    assert again.exit_code == 0, again.output
    assert "mailer --config demo-workspace/mailer.toml campaigns ls" in again.output
    assert mode(workdir / "demo-workspace" / "mailer.toml") == 0o600
    # The line it prints works, from the same folder.
    listed = runner.invoke(
        cli, ["--config", "demo-workspace/mailer.toml", "campaigns", "ls", "--json"], env={}
    )
    assert listed.exit_code == 0, listed.output
    assert [c["status"] for c in json.loads(listed.output)] == ["finished"]


def test_the_closing_lines_name_a_mailer_that_runs(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailer.cli.demo import invocation

    script = workdir / ".venv" / "bin" / "mailer"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr("sys.argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", "/nowhere")
    assert invocation() == ".venv/bin/mailer"  # `make demo`: not activated
    monkeypatch.setenv("PATH", str(script.parent))
    assert invocation() == "mailer"  # activated
    monkeypatch.setattr("sys.argv", ["/usr/lib/python3/pytest"])
    assert invocation() == "mailer"


def test_list_titles_reject_control_characters_and_markup_is_literal(
    workdir: Path, db_url: str
) -> None:
    runner = CliRunner()
    env = {"MAILER_DATABASE_URL": db_url}
    bad = runner.invoke(cli, ["lists", "create", "x", "--title", "Hi\x1b]0;pwned\x07"], env=env)
    assert bad.exit_code == 1 and "title: contains the control character U+001B" in bad.output
    title = "[/bold][red]N[link=x]"
    made = runner.invoke(cli, ["lists", "create", "news", "--title", title], env=env)
    assert made.exit_code == 0, made.output
    shown = runner.invoke(cli, ["lists", "ls"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "[/bold][red]N" in shown.output  # the 80-column table may shorten it
    assert title in runner.invoke(cli, ["lists", "show", "news"], env=env).output


def test_stored_control_characters_never_reach_the_terminal(workdir: Path, db_url: str) -> None:
    """A name stored before the checks (or by another tool) is shown escaped."""
    runner = CliRunner()
    env = {"MAILER_DATABASE_URL": db_url}
    assert runner.invoke(cli, ["lists", "create", "news"], env=env).exit_code == 0
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        members.add_subscriber(s, "a@example.org", "news", attributes={"note": "x"})
        s.execute(
            update(Subscriber).values(name="Eve\x1b[2J\x07\x9b31m", attributes={"note": "\x1b]52;"})
        )
    engine.dispose()
    for args in (
        ["subscribers", "show", "a@example.org"],
        ["subscribers", "ls"],
        ["subscribers", "ls", "--json"],
        ["subscribers", "show", "a@example.org", "--json"],
    ):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
        for ch in "\x1b\x07\x9b":
            assert ch not in result.output, (args, result.output)
        assert "Eve" in result.output
    text = runner.invoke(cli, ["subscribers", "show", "a@example.org"], env=env).output
    assert "Eve\\x1b[2J\\x07\\x9b31m" in text
    as_json = runner.invoke(cli, ["subscribers", "show", "a@example.org", "--json"], env=env)
    assert json.loads(as_json.output)["subscriber"]["name"] == "Eve\x1b[2J\x07\x9b31m"


def test_demo_reuses_a_workspace_from_before_the_marker(workdir: Path) -> None:
    old = workdir / "demo-workspace"
    (old / "received" / "new").mkdir(parents=True)
    (old / "mailer.db").write_bytes(b"")
    (old / "preview.html").write_text("<p>old</p>")
    result = CliRunner().invoke(cli, ["demo"], env={})
    assert result.exit_code == 0, result.output
    assert (old / ".mailer-demo-workspace").is_file()


def test_the_progress_bar_prints_a_file_name_literally() -> None:
    import io

    from rich.console import Console

    from mailer.cli.context import App
    from mailer.cli.progress import byte_progress

    a = App(None)
    out = io.StringIO()
    a.err = Console(file=out, force_terminal=True, markup=False, width=100)
    with byte_progress(a, 100, "Importing [/bold]x.csv") as progress:
        progress(50)
    assert "Importing [/bold]x.csv" in out.getvalue()
