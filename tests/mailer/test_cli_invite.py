"""`subscribers invite`: unconfirmed people get a confirmation through the outbox."""

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailer.cli import cli
from mailer.db import make_engine
from mailer.message import OutgoingMessage
from mailer.outbox import Outbox
from mailer.settings import Settings


@pytest.fixture
def run(workdir: Path, db_url: str) -> Iterator[object]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(cli, list(args), env={"MAILER_DATABASE_URL": db_url})
        assert "Traceback" not in result.output
        return result

    yield invoke


def test_invite_sends_unconfirmed_people_a_confirmation(run, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("lists", "create", "news", "--title", "News").exit_code == 0
    added = run("subscribers", "add", "a@example.org", "--list", "news")
    assert added.exit_code == 0 and "1 unconfirmed: no email was sent" in added.output
    assert "mailer subscribers invite --list news a@example.org" in added.output
    csv = tmp_path / "people.csv"
    csv.write_text("email\nb@example.org\nc@example.org\n", encoding="utf-8")
    imported = run("subscribers", "import", str(csv), "--list", "news")
    assert "2 unconfirmed" in imported.output and "--all-unconfirmed" in imported.output
    confirmed = run("subscribers", "add", "d@example.org", "--list", "news", "--confirmed")
    assert "unconfirmed" not in confirmed.output

    assert run("subscribers", "invite", "--list", "news").exit_code == 2  # whom?
    r = run("subscribers", "invite", "--list", "news", "--all-unconfirmed")
    assert r.exit_code == 0 and "Queued 3 confirmation emails" in r.output
    again = run(
        "subscribers",
        "invite",
        "--list",
        "news",
        "a@example.org",
        "d@example.org",
        "x@example.org",
        "--json",
    )
    assert json.loads(again.output) == {
        "queued": 0,
        "skipped": [
            {"email": "a@example.org", "reason": "a confirmation email is already on its way"},
            {"email": "d@example.org", "reason": "already confirmed"},
            {"email": "x@example.org", "reason": "not on this list"},
        ],
    }
    assert run("subscribers", "invite", "--list", "nope", "--all-unconfirmed").exit_code == 1

    sent: list[OutgoingMessage] = []
    settings = dataclasses.replace(Settings(), database_url=db_url, secret_key="s")
    engine = make_engine(db_url)
    assert Outbox(engine, settings, sent.append).deliver_due() == 3
    engine.dispose()
    assert sorted(m.envelope_to for m in sent) == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
    ]
    assert all(b"/confirm/" in m.data for m in sent)
