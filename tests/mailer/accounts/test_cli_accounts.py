"""`mailer users`, `mailer tokens`, `mailer audit`, `mailer issues import/export`."""

import json
from pathlib import Path

from click.testing import CliRunner, Result

from mailer.cli import cli
from tests.mailer.helpers import EXAMPLE


def run(db_url: str, *args: str) -> Result:
    env = {"MAILER_DATABASE_URL": db_url, "MAILER_SECRET_KEY": "cli-secret"}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert "Traceback" not in result.output
    return result


def test_users_tokens_and_audit(workdir: Path, db_url: str) -> None:
    made = run(db_url, "users", "create", "Editor@Example.org", "--role", "editor")
    assert made.exit_code == 0, made.output
    assert "/admin/password/" in made.output
    assert run(db_url, "users", "create", "editor@example.org", "--role", "editor").exit_code == 1
    bad = run(db_url, "users", "create", "x@example.org", "--role", "owner")
    # A usage error (exit 2) naming the option and the roles there are.
    assert bad.exit_code == 2 and "'--role': 'owner' is not one of" in bad.output, bad.output
    listed = json.loads(run(db_url, "users", "ls", "--json").output)
    assert listed[0]["email"] == "editor@example.org" and listed[0]["password_set"] is False

    token = json.loads(
        run(
            db_url, "tokens", "create", "--user", "editor@example.org", "--name", "ci", "--json"
        ).output
    )
    assert token["token"].startswith("mlr_")
    shown = run(db_url, "tokens", "ls").output
    assert token["token"][:12] in shown and token["token"] not in shown
    assert run(db_url, "tokens", "revoke", str(token["id"])).exit_code == 0
    assert "revoked" in run(db_url, "tokens", "ls").output
    assert run(db_url, "tokens", "revoke", "999").exit_code == 1

    wrong = run(db_url, "users", "role", "editor@example.org", "owner")
    assert wrong.exit_code == 2 and "'ROLE': 'owner' is not one of" in wrong.output, wrong.output
    assert "viewer" in run(db_url, "users", "role", "editor@example.org", "viewer").output
    assert run(db_url, "users", "disable", "editor@example.org").exit_code == 0
    assert run(db_url, "users", "disable", "nobody@example.org").exit_code == 1

    entries = json.loads(run(db_url, "audit", "ls", "--json").output)
    actions = [e["action"] for e in entries]
    assert actions[:5] == [
        "user.disable",
        "user.role",
        "token.revoke",
        "token.create",
        "user.create",
    ]
    assert {e["actor"] for e in entries} == {"cli"}


def test_audit_ls_escapes_what_a_stranger_typed_as_login(workdir: Path, db_url: str) -> None:
    """A failed console login stores the typed address: it must not drive the admin's terminal."""
    from mailer.accounts import audit
    from mailer.accounts.audit import Actor
    from mailer.db import make_engine, session_scope

    typed = "x\x1b]0;pwned\x07\x1b[2J\x9b31m[/bold]"
    assert run(db_url, "audit", "ls").exit_code == 0  # the database exists
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        audit.record(s, Actor(None, "(anonymous)", "203.0.113.9"), "login.failed", typed)
    engine.dispose()
    out = run(db_url, "audit", "ls").output
    assert "login.failed" in out and "[/bold]" in out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "x\\x1b]0;pwned\\x07" in out


def test_issue_import_and_export(workdir: Path, db_url: str) -> None:
    stored = json.loads(run(db_url, "issues", "import", str(EXAMPLE), "--json").output)
    assert stored["version"] == 1
    again = json.loads(run(db_url, "issues", "import", str(EXAMPLE), "--json").output)
    assert again == {**stored, "version": 2}
    out = run(db_url, "issues", "export", str(stored["id"]), "-o", "exported")
    assert out.exit_code == 0, out.output
    written = workdir / "exported" / EXAMPLE.name
    assert written.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")
    assert run(db_url, "issues", "export", "99").exit_code == 1


def test_users_reset_prints_a_new_link_for_the_user(workdir: Path, db_url: str) -> None:
    from sqlalchemy import select

    from mailer.accounts.models import User
    from mailer.accounts.users import redeem
    from mailer.db import make_engine, session_scope

    assert run(db_url, "users", "create", "ed@example.org", "--role", "editor").exit_code == 0
    reset = run(db_url, "users", "reset", "ed@example.org", "--json")
    assert reset.exit_code == 0, reset.output
    link = json.loads(reset.output)["link"]
    assert "/admin/password/" in link
    assert run(db_url, "users", "reset", "nobody@example.org").exit_code == 1
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        assert redeem(s, "cli-secret", link.rsplit("/", 1)[1]).email == "ed@example.org"
    assert run(db_url, "users", "disable", "ed@example.org").exit_code == 0
    refused = run(db_url, "users", "reset", "ed@example.org")
    assert refused.exit_code == 1 and "disabled" in refused.output
    entries = json.loads(run(db_url, "audit", "ls", "--json").output)
    assert "user.reset" in [e["action"] for e in entries]
    with session_scope(engine) as s:
        assert s.scalar(select(User.disabled).where(User.email == "ed@example.org")) is True
    engine.dispose()
