"""Under --json an error is a JSON object on stdout (issue 14), for every command."""

import json
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from mailer.cli import cli


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def placeholder(param: click.Parameter) -> str:
    """A well-formed value, so the error comes from the missing database, not from click."""
    if isinstance(param.type, click.Choice):
        return str(param.type.choices[0])
    if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType):
        return "1"
    if isinstance(param.type, click.DateTime):
        return "2030-01-01"
    return "x@example.org" if param.name == "email" else "placeholder"


def arguments(command: click.Command) -> list[str]:
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument):
            args.append(placeholder(param))
        elif isinstance(param, click.Option) and param.required:
            args += [param.opts[0], placeholder(param)]
    return args


# Commands that never open the database: their errors are their own reports
# (`doctor --json` prints its findings and exits 1 on an error; tests/mailer/doctor).
NO_DATABASE = {("doctor",)}


def test_every_json_command_reports_an_error_as_json(workdir: Path) -> None:
    runner = CliRunner()
    # No such folder: every command fails to open it, and `db upgrade` to create it.
    env = {"MAILER_DATABASE_URL": f"sqlite:///{workdir / 'no-such-folder' / 'missing.db'}"}
    checked = []
    for path in commands(cli):
        command = command_at(path)
        if path in NO_DATABASE or not any(p.name == "as_json" for p in command.params):
            continue
        if path == ("doctor",):
            continue  # opens no database, so nothing here fails; tests/mailer/doctor covers it
        args = [*path, *arguments(command), "--json"]
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code in (1, 2), (args, result.output)
        assert "Traceback" not in result.output
        try:
            error = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"mailer {' '.join(args)}: {result.output!r}") from exc
        assert set(error) == {"error", "code"}, args
        assert error["error"] and error["code"], args
        checked.append(path)
    assert len(checked) >= 10


def test_json_error_codes_and_the_plain_form(workdir: Path, db_url: str) -> None:
    runner = CliRunner()
    env = {"MAILER_DATABASE_URL": db_url}
    missing = runner.invoke(cli, ["lists", "show", "nope", "--json"], env=env)
    assert missing.exit_code == 1
    assert json.loads(missing.stdout) == {
        "error": "no list named 'nope' (see `mailer lists ls`)",
        "code": "not_found",
    }
    bad = runner.invoke(cli, ["subscribers", "add", "nobody", "--list", "x", "--json"], env=env)
    assert json.loads(bad.stdout) == {
        "error": "email: An email address must have an @-sign.",
        "code": "invalid_input",
    }
    usage = runner.invoke(cli, ["campaigns", "status", "not-a-number", "--json"], env=env)
    assert usage.exit_code == 2 and json.loads(usage.stdout)["code"] == "usage"
    plain = runner.invoke(cli, ["lists", "show", "nope"], env=env)
    assert plain.exit_code == 1 and plain.stdout == ""
    assert "Error: no list named 'nope'" in plain.output


def test_a_plain_sqlite3_error_is_the_databases_not_a_traceback() -> None:
    # The delivery path on SQLite runs plain sqlite3 calls (sqlitefast.py,
    # sqliteclaim.py): their errors are not SQLAlchemy's, and must read the same.
    import sqlite3

    from mailer.cli import MailerGroup

    @click.group(cls=MailerGroup)
    def group() -> None:
        pass

    @group.command()
    @click.option("--json", "as_json", is_flag=True)
    def claim(as_json: bool) -> None:
        raise sqlite3.OperationalError("database is locked")

    plain = CliRunner().invoke(group, ["claim"])
    assert plain.exit_code == 1 and isinstance(plain.exception, SystemExit)
    assert "the database cannot be used: database is locked" in plain.output
    as_json = CliRunner().invoke(group, ["claim", "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.output) == {
        "error": "the database cannot be used: database is locked",
        "code": "database",
    }
