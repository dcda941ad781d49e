"""A forger who can mail the public bounce address changes nothing.

Reports are written to a real Maildir and read the way `bounces process`
reads them; the VERP return paths and Message-IDs come from a campaign
really sent over SMTP.
"""

import email
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, select

from mailer.bounces.classify import Kind, classify
from mailer.bounces.process import process_messages
from mailer.bounces.sources import maildir
from mailer.campaigns.models import BounceEvent, ProcessedMessage
from mailer.cli import cli
from mailer.db import session_scope
from subscribers.members import describe
from tests.mailer.bounces.samples import arf, postfix_dsn
from tests.mailer.bounces.sent import BOUNCES, S, send_campaign, write_maildir

USER_UNKNOWN = "smtp; 550 5.1.1 <x>: Recipient address rejected: User unknown"


def suppressed(engine: Engine, n: int) -> list[str]:
    with session_scope(engine) as s:
        found = [describe(s, f"u{i}@example.org")["suppression"] for i in range(n)]
    return [f"u{i}@example.org" for i, x in enumerate(found) if x is not None]


def wrong_tag(verp: str) -> str:
    local, _, domain = verp.partition("@")
    last = "a" if local[-1] != "a" else "b"
    return f"{local[:-1]}{last}@{domain}"


def test_forged_reports_suppress_nobody_and_genuine_ones_their_subscriber(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    sent = send_campaign(engine, 6)
    verp, mid = sent.verp, sent.message_id
    forged = [
        # A VERP return path of ours whose tag was altered.
        postfix_dsn(wrong_tag(verp[1]), [("u1@example.org", "failed", "5.1.1", USER_UNKNOWN)]),
        # Our plain bounce address, naming a subscriber in Final-Recipient.
        postfix_dsn(BOUNCES, [("u2@example.org", "failed", "5.1.1", USER_UNKNOWN)], "5A"),
        # Several Final-Recipients, no VERP.
        postfix_dsn(
            BOUNCES,
            [(f"u{i}@example.org", "failed", "5.1.1", USER_UNKNOWN) for i in (1, 2, 3)],
            "6B",
        ),
        # A Message-ID in our format with a wrong HMAC, in an ARF naming u4.
        arf(mid[4].replace(mid[4].split("@")[0][-4:], "0000"), "u4@example.org"),
        # An ARF quoting no Message-ID of ours at all.
        arf("<CAF00bar@mail.example.com>", "u5@example.org"),
        # Two genuine Message-IDs of different subscribers: proves no one person.
        arf(f"{mid[4]} {mid[5]}", "u4@example.org"),
    ]
    folder = write_maildir(tmp_path / "forged", forged)
    with maildir(folder) as messages:
        r = process_messages(engine, S, messages).as_dict()
    assert r["unverified"] == len(forged) and r["suppressed"] == []
    assert suppressed(engine, 6) == []
    with session_scope(engine) as s:
        assert s.scalars(select(BounceEvent)).all() == []
        details = s.scalars(
            select(ProcessedMessage.detail).where(ProcessedMessage.outcome == "unverified")
        ).all()
    assert any("its VERP tag does not verify" in d for d in details)
    assert any("not sent to a VERP return path" in d for d in details)
    assert any("Message-ID HMAC does not verify" in d for d in details)
    assert any("quotes no Message-ID of ours" in d for d in details)
    assert any("its Message-IDs name 2 different subscribers" in d for d in details)

    genuine = [
        postfix_dsn(verp[0], [("u0@example.org", "failed", "5.1.1", USER_UNKNOWN)], "7C"),
        arf(mid[3], "u3@example.org"),
        # The attacker's own genuine VERP (u5) listing others: at most u5 is touched.
        postfix_dsn(
            verp[5],
            [(f"u{i}@example.org", "failed", "5.1.1", USER_UNKNOWN) for i in (1, 2, 4)],
            "8D",
        ),
    ]
    folder = write_maildir(tmp_path / "genuine", genuine)
    with maildir(folder) as messages:
        r = process_messages(engine, S, messages).as_dict()
    assert sorted(r["suppressed"]) == ["u0@example.org", "u3@example.org", "u5@example.org"]
    assert suppressed(engine, 6) == ["u0@example.org", "u3@example.org", "u5@example.org"]
    with session_scope(engine) as s:
        subscribers = sorted(s.scalars(select(BounceEvent.subscriber_id)).all())
    assert subscribers == [1, 4, 6]  # one event each, none for the addresses named

    env = {"MAILER_DATABASE_URL": db_url, "MAILER_BOUNCE_ADDRESS": BOUNCES}
    env["MAILER_SECRET_KEY"] = S.secret_key
    listed = CliRunner().invoke(cli, ["bounces", "ls"], env=env)
    assert listed.exit_code == 0, listed.output
    head, _, rest = listed.output.partition("Unverified reports")
    assert "hard 2" in head and "complaints 1" in head
    assert rest.count("nobody changed") == len(forged)
    as_json = json.loads(CliRunner().invoke(cli, ["bounces", "ls", "--json"], env=env).output)
    assert len(as_json["unverified"]) == len(forged)
    assert as_json["counts"]["hard"] == 2 and as_json["counts"]["complaint"] == 1
    mistyped = CliRunner().invoke(cli, ["bounces", "ls", "--campaign", "99"], env=env)
    assert mistyped.exit_code == 1 and "no campaign 99" in mistyped.output


def test_a_report_without_a_configured_secret_or_bounce_address_proves_nothing() -> None:
    msg = email.message_from_bytes(
        postfix_dsn("bounces+1-1-aaaaaaaaaa@example.org", [("u@x.org", "failed", "5.1.1", "")])
    )
    for base, secret in (("", S.secret_key), (BOUNCES, "")):
        finding = classify(msg, base, secret)
        assert finding.kind is Kind.HARD and finding.subscriber_id is None
        assert "configured" in finding.unverified


def test_a_genuine_report_for_an_erased_subscriber_acts_on_nobody(
    engine: Engine, tmp_path: Path
) -> None:
    from subscribers.members import erase

    sent = send_campaign(engine, 2)
    with session_scope(engine) as s:
        erase(s, "u1@example.org")
    folder = write_maildir(
        tmp_path / "bounces",
        [postfix_dsn(sent.verp[1], [("u1@example.org", "failed", "5.1.1", USER_UNKNOWN)])],
    )
    with maildir(folder) as messages:
        r = process_messages(engine, S, messages).as_dict()
    assert r["suppressed"] == []
    with session_scope(engine) as s:
        assert s.scalars(select(BounceEvent)).all() == []
        # The tag signs the subscriber's link key, which went with them: the
        # genuine tag no longer verifies, so the report is unverified.
        outcome, detail = s.execute(select(ProcessedMessage.outcome, ProcessedMessage.detail)).one()
        assert outcome == "unverified"
        assert "VERP tag does not verify" in detail and "nobody changed" in detail
