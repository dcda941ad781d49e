"""DSNs are graded by their Status (RFC 3463), as Postfix writes them.

``Action: delayed`` is noted and changes nothing; ``failed`` with 4.x.x
(queue expired) is soft; 5.7.x is a block; 5.1.1 is hard. The remote
server's diagnostic is kept and shown by `subscribers show`.
"""

import email
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from mailer.bounces import dsn
from mailer.bounces.classify import Kind, classify
from mailer.bounces.process import process_messages
from mailer.bounces.sources import maildir
from mailer.campaigns.models import BounceEvent
from mailer.cli import cli
from mailer.db import session_scope
from subscribers.addresses import parse_address
from subscribers.members import find_suppression
from tests.mailer.bounces.samples import postfix_dsn
from tests.mailer.bounces.sent import BOUNCES, S, send_campaign, write_maildir

REFUSED = "X-Postfix; connect to mail.example.com[192.0.2.10]:25: Connection refused"
EXPIRED = "X-Postfix; delivery temporarily suspended: connect to mail.example.com[192.0.2.10]:25: Connection refused"
UNKNOWN = "smtp; 550 5.1.1 <u2@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
SPAM = "smtp; 550 5.7.1 Message rejected as spam by Content Filtering (see https://x.example/spam)"
FULL = "smtp; 552 5.2.2 <u4@example.org>: mailbox full, quota exceeded"
DISABLED = "smtp; 550 5.2.1 The email account that you tried to reach is disabled"


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "kind"),
    [
        ("delayed", "4.4.1", REFUSED, Kind.DELAYED),
        ("failed", "4.4.1", EXPIRED, Kind.SOFT),
        ("failed", "5.1.1", UNKNOWN, Kind.HARD),
        ("failed", "5.7.1", SPAM, Kind.BLOCK),
        ("failed", "5.2.2", FULL, Kind.SOFT),
        ("failed", "5.2.1", DISABLED, Kind.HARD),
        ("failed", "5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed limit", Kind.FAIL),
        ("failed", "", UNKNOWN, Kind.HARD),  # no Status: the diagnostic's enhanced code
    ],
)
def test_postfix_dsn_graded_by_status(
    action: str, status: str, diagnostic: str, kind: Kind
) -> None:
    raw = postfix_dsn(BOUNCES, [("u@example.com", action, status, diagnostic)])
    finding = classify(email.message_from_bytes(raw), BOUNCES, S.secret_key)
    assert finding.kind is kind
    assert finding.diagnostic == diagnostic.partition(";")[2].strip()
    assert finding.addresses == {"u@example.com"}


def test_delayed_soft_block_and_hard_dsns_from_a_maildir(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    sent = send_campaign(engine, 5)
    v = sent.verp
    folder = write_maildir(
        tmp_path / "bounces",
        [
            postfix_dsn(v[0], [("u0@example.org", "delayed", "4.4.1", REFUSED)], "1A"),
            postfix_dsn(v[1], [("u1@example.org", "failed", "4.4.1", EXPIRED)], "2B"),
            postfix_dsn(v[2], [("u2@example.org", "failed", "5.1.1", UNKNOWN)], "3C"),
            postfix_dsn(v[3], [("u3@example.org", "failed", "5.7.1", SPAM)], "4D"),
            postfix_dsn(v[4], [("u4@example.org", "failed", "5.2.2", FULL)], "5E"),
        ],
    )
    with maildir(folder) as messages:
        r = process_messages(engine, S, messages).as_dict()
    assert (r["delayed"], r["soft"], r["hard"], r["blocks"]) == (1, 2, 1, 1)
    assert r["suppressed"] == ["u2@example.org"]
    with session_scope(engine) as s:
        for i in (0, 1, 3, 4):
            assert find_suppression(s, parse_address(f"u{i}@example.org")) is None
        events = s.execute(
            select(BounceEvent.subscriber_id, BounceEvent.kind, BounceEvent.status)
        ).all()
    assert sorted(events) == [
        (1, "delayed", "4.4.1"),
        (2, "soft", "4.4.1"),
        (3, "hard", "5.1.1"),
        (4, "block", "5.7.1"),
        (5, "soft", "5.2.2"),
    ]
    env = {"MAILER_DATABASE_URL": db_url, "MAILER_SECRET_KEY": S.secret_key}
    shown = CliRunner().invoke(cli, ["subscribers", "show", "u2@example.org"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "hard 5.1.1 bounce via dsn" in shown.output
    assert (
        "remote server said: 550 5.1.1 <u2@example.org>: Recipient address rejected: "
        "User unknown in virtual mailbox table" in shown.output
    )
    blocked = CliRunner().invoke(cli, ["subscribers", "show", "u3@example.org"], env=env).output
    assert "SUPPRESSED" not in blocked and "block 5.7.1 bounce" in blocked
    assert "Message rejected as spam" in blocked


def test_dsn_fields_are_cleaned_and_ambiguity_picks_the_mildest() -> None:
    raw = postfix_dsn(
        BOUNCES,
        [
            ("a@example.com", "failed", "5.1.1", "smtp; 550 5.1.1 \x1b[31mred\x1b[0m"),
            ("b@example.com", "delayed", "4.4.1", REFUSED),
            ("c@example.com", "delivered", "2.0.0", "smtp; 250 ok"),
        ],
    )
    statuses = dsn.recipients(email.message_from_bytes(raw))
    assert [s.recipient for s in statuses] == ["a@example.com", "b@example.com", "c@example.com"]
    assert "\x1b" not in statuses[0].diagnostic
    chosen = dsn.choose(statuses)
    assert chosen is not None and chosen.action == "delayed"
    assert dsn.choose([s for s in statuses if s.action == "delivered"]) is None
