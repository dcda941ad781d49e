"""`mailer init --force` never loses the settings file or its secret key (issue 10 item 7)."""

import tomllib
from pathlib import Path

from click.testing import CliRunner

from mailer.cli import cli


def secret_of(path: Path) -> str:
    return str(tomllib.loads(path.read_text())["secret_key"])


def test_force_with_a_bad_url_leaves_the_file_byte_identical(workdir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env={}).exit_code == 0
    config = workdir / "mailer.toml"
    before = config.read_bytes()
    for url in (
        "postgresql://nobody@127.0.0.1:9/mailer",  # nothing listens there
        "sqlite:////no/such/folder/mailer.db",
        "not a url",
        'sqlite:///x.db"\nsecret_key = "stolen',  # a usage error (exit 2)
    ):
        result = runner.invoke(cli, ["init", "--force", "--database-url", url], env={})
        assert result.exit_code in (1, 2), (url, result.output)
        assert "Traceback" not in result.output
        assert config.read_bytes() == before, url
    assert sorted(p.name for p in workdir.iterdir()) == ["mailer.db", "mailer.toml"]


def test_force_keeps_the_secret_unless_new_secret(workdir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env={}).exit_code == 0
    config = workdir / "mailer.toml"
    old = secret_of(config)
    moved = 'sqlite:///./other".db'  # a quote cannot end the TOML string early
    result = runner.invoke(cli, ["init", "--force", "--database-url", moved], env={})
    assert result.exit_code == 0, result.output
    assert "Kept the secret key" in result.output
    assert secret_of(config) == old
    assert tomllib.loads(config.read_text())["database_url"] == moved
    assert (workdir / 'other".db').exists()
    result = runner.invoke(cli, ["init", "--force", "--new-secret"], env={})
    assert result.exit_code == 0, result.output
    assert secret_of(config) != old


def test_force_over_a_broken_file_asks_for_new_secret(workdir: Path) -> None:
    config = workdir / "mailer.toml"
    config.write_text("secret_key = [unclosed\n")
    result = CliRunner().invoke(cli, ["init", "--force"], env={})
    assert result.exit_code == 1 and "--new-secret" in result.output
    assert config.read_text() == "secret_key = [unclosed\n"
    result = CliRunner().invoke(cli, ["init", "--force", "--new-secret"], env={})
    assert result.exit_code == 0, result.output
    assert len(secret_of(config)) > 20
