import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from mailer.cli import cli


def walk(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from walk(command, (*prefix, name))


@pytest.fixture
def run(workdir: Path, db_url: str) -> Iterator[object]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(cli, list(args), env={"MAILER_DATABASE_URL": db_url}, input=input)
        assert "Traceback" not in result.output
        if result.exception is not None:
            assert isinstance(result.exception, SystemExit), result.exception
        return result

    yield invoke


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    commands = [(), *walk(cli)]
    assert len(commands) > 15
    for path in commands:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example:" in result.output, f"`mailer {' '.join(path)}` help has no example"


def test_init_writes_a_secret_and_creates_the_database(workdir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["init"], env={})
    assert result.exit_code == 0, result.output
    config = (workdir / "mailer.toml").read_text()
    assert 'secret_key = "' in config and (workdir / "mailer.db").exists()
    assert oct((workdir / "mailer.toml").stat().st_mode)[-3:] == "600"
    again = runner.invoke(cli, ["init"], env={})
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(cli, ["lists", "ls"], env={}).exit_code == 0


def test_database_not_initialised_is_a_clear_error(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["lists", "ls"], env={})
    assert result.exit_code == 1
    assert "run `mailer init`" in result.output


def test_lists_and_subscribers_end_to_end(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("lists", "create", "lmec-news", "--title", "LMEC Newsletter").exit_code == 0
    assert run("lists", "create", "lmec-news").exit_code == 1
    assert run("lists", "create", "Bad Name").exit_code == 1
    r = run(
        "subscribers",
        "add",
        "li.wei@example.org",
        "--list",
        "lmec-news",
        "--name",
        "Li Wei",
        "--attr",
        "country=CN",
        "--confirmed",
        "--json",
    )
    assert json.loads(r.output) == {
        "email": "li.wei@example.org",
        "list": "lmec-news",
        "created": True,
        "status": "confirmed",
    }
    assert (
        run(
            "subscribers", "add", "x@example.org", "--list", "lmec-news", "--attr", "novalue"
        ).exit_code
        == 2
    )

    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email,name\nnew@example.org,New\nbroken,\n", encoding="utf-8")
    dupes = tmp_path / "dupes.csv"
    dupes.write_text("email\nd@example.org\nD@example.org\n", encoding="utf-8")
    r = run("subscribers", "import", str(dupes), "--list", "lmec-news")
    assert "1 added, 0 updated, 0 unchanged, 0 rejected. (1 duplicate line merged" in r.output
    r = run("subscribers", "import", str(csv_path), "--list", "lmec-news", "--json")
    assert r.exit_code == 0
    assert json.loads(r.output) == {
        "added": 1,
        "updated": 0,
        "unchanged": 0,
        "duplicates": 0,
        "rejected": [
            {"line": 3, "email": "broken", "reason": "email: An email address must have an @-sign."}
        ],
    }
    r = run("subscribers", "import", str(csv_path), "--list", "lmec-news")
    assert "0 added, 0 updated, 1 unchanged, 1 rejected" in r.output
    assert "line 3: broken: email: An email address must have an @-sign." in r.output
    assert (
        run("subscribers", "import", str(tmp_path / "none.csv"), "--list", "lmec-news").exit_code
        == 1
    )

    shown = json.loads(run("lists", "show", "lmec-news", "--json").output)
    assert shown["counts"] == {"unconfirmed": 2, "confirmed": 1, "unsubscribed": 0}
    listed = json.loads(run("lists", "ls", "--json").output)
    assert len(listed) == 1 and listed[0]["name"] == listed[0]["slug"]
    listed = json.loads(run("subscribers", "ls", "--status", "confirmed", "--json").output)
    assert [x["email"] for x in listed] == ["li.wei@example.org"]

    out = tmp_path / "out.csv"
    assert run("subscribers", "export", "--list", "lmec-news", "-o", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8").splitlines() == [
        "email,name,language,country",
        "d@example.org,,,",
        "li.wei@example.org,Li Wei,,CN",
        "new@example.org,New,,",
    ]

    assert (
        run("subscribers", "unsubscribe", "new@example.org", "--list", "lmec-news").exit_code == 0
    )
    assert run("subscribers", "suppress", "trap@example.org").exit_code == 0
    assert run("subscribers", "erase", "li.wei@example.org", input="n\n").exit_code == 1
    assert run("subscribers", "erase", "li.wei@example.org", "--yes").exit_code == 0
    info = json.loads(run("subscribers", "show", "li.wei@example.org", "--json").output)
    assert info["subscriber"] is None and info["suppression"]["reason"] == "erased"
    assert run("subscribers", "show", "nobody@example.org").exit_code == 1
    assert run("lists", "rm", "lmec-news", input="n\n").exit_code == 1
    assert run("lists", "rm", "lmec-news", "--yes").exit_code == 0


def test_bad_settings_exit_1_with_the_variable_named(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["lists", "ls"], env={"MAILER_SMTP_PORT": "abc"})
    assert result.exit_code == 1
    assert "MAILER_SMTP_PORT: expected a whole number" in result.output


def test_db_upgrade_reports_revisions(workdir: Path) -> None:
    runner = CliRunner()
    env = {"MAILER_DATABASE_URL": f"sqlite:///{workdir / 'x.db'}"}
    first = json.loads(runner.invoke(cli, ["db", "upgrade", "--json"], env=env).output)
    assert first["from"] is None and first["to"]
    again = runner.invoke(cli, ["db", "upgrade"], env=env)
    assert "already at the current revision" in again.output


def test_subscribers_show_gives_the_address_as_stored_and_on_the_wire(run: Any) -> None:
    assert run("lists", "create", "news").exit_code == 0
    assert run("subscribers", "add", "muller@bücher.example", "--list", "news").exit_code == 0
    shown = run("subscribers", "show", "muller@bücher.example")
    assert "muller@bücher.example" in shown.output
    assert "on the wire: muller@xn--bcher-kva.example" in shown.output
    info = json.loads(run("subscribers", "show", "muller@bücher.example", "--json").output)
    assert info["subscriber"]["email_wire"] == "muller@xn--bcher-kva.example"
    assert info["subscriber"]["needs_smtputf8"] is False
    assert run("subscribers", "add", "李伟@example.org", "--list", "news").exit_code == 0
    utf8 = run("subscribers", "show", "李伟@example.org").output
    assert "on the wire: 李伟@example.org (needs a server with SMTPUTF8)" in utf8
