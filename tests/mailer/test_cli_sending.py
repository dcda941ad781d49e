import json
from pathlib import Path

from click.testing import CliRunner, Result

from mailer.cli import cli
from mailer.cli.sending import parse_when
from tests.mailer.helpers import EXAMPLE
from tests.smtp_server import SmtpServer


def test_parse_when_honours_time_zones() -> None:
    assert (
        parse_when("2026-12-01 09:00", "Asia/Shanghai").isoformat() == "2026-12-01T01:00:00+00:00"
    )
    assert parse_when("2026-12-01T09:00+02:00", "UTC").isoformat() == "2026-12-01T07:00:00+00:00"


def test_send_now_wait_then_campaign_commands(workdir: Path, db_url: str) -> None:
    runner = CliRunner()
    with SmtpServer() as server:
        env = {
            "MAILER_DATABASE_URL": db_url,
            "MAILER_SMTP_HOST": "127.0.0.1",
            "MAILER_SMTP_PORT": str(server.port),
            "MAILER_SECRET_KEY": "k",
        }

        def run(*args: str, input: str | None = None) -> Result:
            result = runner.invoke(cli, list(args), env=env, input=input)
            assert "Traceback" not in result.output, result.output
            return result

        assert run("lists", "create", "lmec-news").exit_code == 0
        for i in range(5):
            assert (
                run(
                    "subscribers", "add", f"p{i}@example.org", "--list", "lmec-news", "--confirmed"
                ).exit_code
                == 0
            )
        r = run("send", str(EXAMPLE), "--list", "lmec-news", "--now", "--wait", "--json")
        assert r.exit_code == 0, r.output
        sent = json.loads(r.output)
        assert {k: sent[k] for k in ("campaign", "recipients", "sent", "failed", "deferred")} == {
            "campaign": 1,
            "recipients": 5,
            "sent": 5,
            "failed": 0,
            "deferred": 0,
        }
        assert (sent["skipped"], sent["in_doubt"], sent["blocked"]) == (0, 0, 0)
        assert len(server.handler.messages) == 5
        # `send --wait --json` is the same report as `campaigns status --json`.
        status = json.loads(run("campaigns", "status", "1", "--json").output)
        assert set(sent) == set(status) and sent["status"] == "finished"

        again = run("send", str(EXAMPLE), "--list", "lmec-news", "--now")
        assert again.exit_code == 1 and "use --force" in again.output
        later = run(
            "send",
            str(EXAMPLE),
            "--list",
            "lmec-news",
            "--at",
            "2030-01-01 09:00",
            "--tz",
            "Asia/Shanghai",
            "--force",
            "--json",
        )
        assert later.exit_code == 0
        assert json.loads(later.output)["scheduled_at"] == "2030-01-01T01:00:00+00:00"
        assert run("send", str(EXAMPLE), "--list", "lmec-news").exit_code == 2
        assert run("send", str(EXAMPLE), "--list", "lmec-news", "--at", "tomorrow").exit_code == 2
        assert (
            run(
                "send",
                str(EXAMPLE),
                "--list",
                "lmec-news",
                "--at",
                "2030-01-01",
                "--tz",
                "Mars/Base",
            ).exit_code
            == 2
        )

        listed = json.loads(run("campaigns", "ls", "--json").output)
        assert [c["status"] for c in listed] == ["scheduled", "finished"]
        status = json.loads(run("campaigns", "status", "1", "--json").output)
        assert status["sent"] == 5 and status["status"] == "finished"
        assert run("campaigns", "pause", "2").exit_code == 0
        assert "paused" in run("campaigns", "status", "2").output
        assert run("campaigns", "resume", "2").exit_code == 0
        declined = run("campaigns", "cancel", "2", input="n\n")
        assert declined.exit_code == 1 and "campaign 2 was not cancelled" in declined.output
        unanswered = run("campaigns", "cancel", "2", "--json")  # no terminal: still JSON
        assert unanswered.exit_code == 1
        assert json.loads(unanswered.stdout)["error"].startswith("campaign 2 was not cancelled")
        assert run("campaigns", "cancel", "2", "--yes").exit_code == 0
        assert run("campaigns", "cancel", "2", "--yes").exit_code == 1
        assert run("campaigns", "status", "99").exit_code == 1


def test_template_error_stops_before_scheduling(workdir: Path, db_url: str) -> None:
    env = {"MAILER_DATABASE_URL": db_url}
    runner = CliRunner()
    assert runner.invoke(cli, ["lists", "create", "news"], env=env).exit_code == 0
    bad = workdir / "bad.md"
    bad.write_text("---\nsubject: x\n---\n{{ oops }}\n", encoding="utf-8")
    r = runner.invoke(cli, ["send", str(bad), "--list", "news", "--now"], env=env)
    assert r.exit_code == 1 and "bad.md:4: template error: 'oops' is undefined" in r.output
    assert "No campaigns yet" in runner.invoke(cli, ["campaigns", "ls"], env=env).output


def test_send_at_a_past_time_is_refused_unless_forced(workdir: Path, db_url: str) -> None:
    env = {"MAILER_DATABASE_URL": db_url, "MAILER_SECRET_KEY": "k"}
    runner = CliRunner()
    assert runner.invoke(cli, ["lists", "create", "lmec-news"], env=env).exit_code == 0
    args = ["send", str(EXAMPLE), "--list", "lmec-news", "--at", "2020-03-01 09:00"]
    refused = runner.invoke(cli, [*args, "--tz", "Asia/Shanghai"], env=env)
    assert refused.exit_code == 2
    text = " ".join(refused.output.split())
    assert "2020-03-01 09:00 +08:00 (Asia/Shanghai) = 2020-03-01 01:00 UTC" in text
    assert "in the past" in text and "Traceback" not in refused.output
    listed = runner.invoke(cli, ["campaigns", "ls", "--json"], env=env)
    assert json.loads(listed.output) == []  # nothing was scheduled
    forced = runner.invoke(cli, [*args, "--tz", "Asia/Shanghai", "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    assert "starting now" in forced.output
    now = runner.invoke(
        cli, ["send", str(EXAMPLE), "--list", "lmec-news", "--now", "--force"], env=env
    )
    assert now.exit_code == 0 and "starting now" in now.output


def test_failures_states_as_json_and_ls_at_80_columns(workdir: Path, db_url: str) -> None:
    runner = CliRunner()
    rules = {"p0@example.org": "550 5.1.1 User unknown", "p1@example.org": "550 5.7.1 Blocked"}
    with SmtpServer(rcpt_rules=rules) as server:
        env = {
            "MAILER_DATABASE_URL": db_url,
            "MAILER_SMTP_HOST": "127.0.0.1",
            "MAILER_SMTP_PORT": str(server.port),
            "MAILER_SECRET_KEY": "k",
            "COLUMNS": "80",
        }

        def run(*args: str) -> Result:
            result = runner.invoke(cli, list(args), env=env)
            assert "Traceback" not in result.output, result.output
            return result

        assert run("lists", "create", "lmec-news").exit_code == 0
        for i in range(4):
            add = run(
                "subscribers", "add", f"p{i}@example.org", "--list", "lmec-news", "--confirmed"
            )
            assert add.exit_code == 0
        sent = run("send", str(EXAMPLE), "--list", "lmec-news", "--now", "--wait", "--json")
        assert sent.exit_code == 0, sent.output
        assert json.loads(sent.output)["blocked"] == 1
    found = json.loads(run("campaigns", "failures", "1", "--json").output)
    assert [(f["email"], f["status"], f["failure"], f["code"], f["attempts"]) for f in found] == [
        ("p0@example.org", "failed", "hard", 550, 1),
        ("p1@example.org", "failed", "block", 550, 1),
    ]
    text = run("campaigns", "failures", "1").output
    assert "p0@example.org  failed (hard), 1 attempt: 550 5.1.1 User unknown" in text
    later = ["--at", "2030-01-01 09:00", "--force", "--json"]
    assert run("send", str(EXAMPLE), "--list", "lmec-news", *later).exit_code == 0
    assert json.loads(run("campaigns", "pause", "2", "--json").output)["status"] == "paused"
    resumed = json.loads(run("campaigns", "resume", "2", "--json").output)
    assert resumed["status"] == "scheduled"
    assert resumed["scheduled_at"] == "2030-01-01T09:00:00+00:00"  # kept through pause/resume
    cancelled = json.loads(run("campaigns", "cancel", "2", "--yes", "--json").output)
    assert cancelled["status"] == "cancelled"
    listed = run("campaigns", "ls").output
    assert all(len(line) <= 80 for line in listed.splitlines()), listed
    assert "cancelled" in listed and "finished" in listed and "2/4" in listed
