import dataclasses
import email
import mailbox
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from mailer.bounces.classify import Kind, classify
from mailer.bounces.policy import Policy, record
from mailer.bounces.process import process_messages
from mailer.bounces.sources import SourceError, maildir, mbox
from mailer.bounces.verp import parse_verp, verp_address
from mailer.campaigns.models import BounceEvent, BounceKind, ProcessedMessage
from mailer.campaigns.report import report as campaign_report
from mailer.db import session_scope
from mailer.delivery.engine import smtp_engine
from subscribers.addresses import parse_address
from subscribers.members import describe, find_suppression
from subscribers.models import utcnow
from tests.mailer.bounces.samples import arf, dsn, flufl_samples, out_of_office
from tests.mailer.bounces.sent import BOUNCES, S, send_campaign, write_maildir
from tests.mailer.sending import ledger, new_campaign, populate
from tests.smtp_server import SmtpServer


def test_verp_round_trip_and_forgery() -> None:
    address = verp_address(BOUNCES, "k", 42, 7)
    assert address.startswith("bounces+2a-7-") and address.endswith("@example.org")
    assert len(address.split("@")[0]) <= 64
    assert parse_verp(address, BOUNCES, "k") == (42, 7)
    assert parse_verp(address.upper(), BOUNCES, "k") == (42, 7)  # servers that lower/upper-case
    assert parse_verp(address, BOUNCES, "other-key") is None
    assert parse_verp(address.replace("2a-7", "2a-8"), BOUNCES, "k") is None
    assert parse_verp("someone@example.org", BOUNCES, "k") is None


def test_flufl_samples_classify_as_flufl_says(tmp_path: Path) -> None:
    data = flufl_samples(tmp_path)
    expected = {
        "postfix_01.txt": (Kind.HARD, {"xxxxx@local.ie"}),
        "exim_01.txt": (Kind.HARD, {"userx@its.example.nl"}),
        "simple_01.txt": (Kind.HARD, {"bbbsss@example.com"}),
        "llnl_01.txt": (Kind.HARD, {"user1@example.gov"}),
        "simple_03.txt": (Kind.SOFT, {"userx@example.za"}),
        "dumbass_01.txt": (Kind.UNKNOWN, set()),
    }
    for name, (kind, addresses) in expected.items():
        msg = email.message_from_bytes((data / name).read_bytes())
        finding = classify(msg, BOUNCES, "k")
        assert (finding.kind, finding.addresses) == (kind, addresses), name
    assert len(list(data.glob("*.txt"))) > 100


def test_every_flufl_sample_processes_and_none_suppresses_without_our_verp(
    engine: Engine, tmp_path: Path
) -> None:
    """117 real bounces from many MTAs, none sent to a VERP return path of ours:
    each is read and recorded, and none of them may act on anybody."""
    populate(engine, 1)
    data = flufl_samples(tmp_path)
    files = sorted(data.glob("*.txt"))
    r = process_messages(engine, S, (f.read_bytes() for f in files)).as_dict()
    assert r["messages"] == len(files)
    assert r["unverified"] + r["auto_replies"] + r["unrecognized"] + len(r["poison"]) == len(files)
    assert r["unverified"] > 50 and r["suppressed"] == []
    with session_scope(engine) as s:
        assert s.scalars(select(BounceEvent)).all() == []
        assert find_suppression(s, parse_address("xxxxx@local.ie")) is None
        outcomes = s.scalars(select(ProcessedMessage.outcome)).all()
        assert len(outcomes) == len(files)
        detail = s.scalar(
            select(ProcessedMessage.detail).where(ProcessedMessage.outcome == "unverified")
        )
    assert detail and "it was not sent to a VERP return path; nobody changed" in detail
    again = process_messages(engine, S, (f.read_bytes() for f in files)).as_dict()
    assert again["already_processed"] == len(files) and again["unverified"] == 0


def test_dsns_complaints_and_auto_replies_from_a_maildir(engine: Engine, tmp_path: Path) -> None:
    sent = send_campaign(engine, 5)
    cid, verp, mid = sent.campaign_id, sent.verp, sent.message_id
    folder = write_maildir(
        tmp_path / "bounces",
        [
            dsn(verp[0], "u0@example.org", "5.1.1", "failed"),
            # Forwarded: the VERP decides whom it is about, not Final-Recipient.
            dsn(verp[1], "someone-else@forwarded.example", "5.2.1", "failed"),
            dsn(verp[2], "u2@example.org", "4.2.2", "delayed", vague=True),
            arf(mid[3], "u3@example.org"),
            out_of_office(verp[4], "u4@example.org"),
        ],
    )
    with maildir(folder) as messages:
        report = process_messages(engine, S, messages).as_dict()
    assert (report["hard"], report["delayed"], report["complaints"], report["auto_replies"]) == (
        2,
        1,
        1,
        1,
    )
    assert sorted(report["suppressed"]) == ["u0@example.org", "u1@example.org", "u3@example.org"]
    with session_scope(engine) as s:
        u1 = describe(s, "u1@example.org")
        assert u1["suppression"]["reason"] == "bounced"
        assert f"campaign {cid}" in u1["suppression"]["detail"]
        assert describe(s, "u3@example.org")["suppression"]["reason"] == "complained"
        assert describe(s, "u2@example.org")["suppression"] is None
        assert describe(s, "u4@example.org")["suppression"] is None
        events = s.execute(
            select(BounceEvent.kind, BounceEvent.campaign_id, BounceEvent.source)
        ).all()
        assert sorted(events) == sorted(
            [
                ("hard", cid, "dsn"),
                ("hard", cid, "dsn"),
                ("delayed", cid, "dsn"),
                ("complaint", cid, "arf"),
            ]
        )
        bounces = campaign_report(s, cid).bounces
        assert {k: n for k, n in bounces.items() if n} == {"hard": 2, "delayed": 1, "complaint": 1}
    with maildir(folder) as messages:
        again = process_messages(engine, S, messages).as_dict()
    assert again["already_processed"] == 5 and again["suppressed"] == []
    with session_scope(engine) as s:
        assert len(s.scalars(select(BounceEvent)).all()) == 4
    # The next campaign skips everyone suppressed.
    nxt = new_campaign(engine, force=True)
    assert sorted(r.subscriber_id for r in ledger(engine, nxt)) == [3, 5]


def test_forged_verp_and_foreign_message_ids_map_to_nobody(engine: Engine) -> None:
    populate(engine, 1)
    forged = verp_address(BOUNCES, "not-our-key", 1, 1)
    msg = email.message_from_bytes(
        dsn(forged, "x@elsewhere.example", "5.1.1", "failed", vague=True)
    )
    finding = classify(msg, BOUNCES, S.secret_key)
    assert finding.subscriber_id is None and finding.campaign_id is None


def test_soft_bounces_score_once_a_day_and_reset_after_a_quiet_week(engine: Engine) -> None:
    populate(engine, 1)
    policy = Policy(soft_threshold=5, soft_reset=timedelta(days=7))
    start = utcnow() - timedelta(days=40)

    def soft(day: float) -> bool:
        with session_scope(engine) as s:
            return record(
                s,
                email="u0@example.org",
                kind=BounceKind.SOFT,
                source="dsn",
                detail="mailbox full",
                policy=policy,
                now=start + timedelta(days=day),
            ).suppressed

    assert [soft(d) for d in (0, 0.1, 0.2, 1, 2, 3)] == [False] * 6  # 4 days, 6 bounces
    assert soft(14) is False  # after a quiet week the count starts again (1)
    assert [soft(d) for d in (15, 16, 17)] == [False] * 3  # 4 points
    assert soft(18) is True  # the fifth day suppresses
    with session_scope(engine) as s:
        supp = describe(s, "u0@example.org")["suppression"]
    assert supp["reason"] == "bounced" and "5 days of soft bounces" in supp["detail"]


def test_mbox_source_and_bad_paths(engine: Engine, tmp_path: Path) -> None:
    sent = send_campaign(engine, 2)
    box = mailbox.mbox(str(tmp_path / "bounces.mbox"))
    box.add(dsn(sent.verp[0], "u0@example.org", "5.1.1", "failed"))
    box.add(dsn("postmaster@example.org", "u1@example.org", "5.1.1", "failed"))  # no VERP
    box.flush()
    with mbox(tmp_path / "bounces.mbox") as messages:
        r = process_messages(engine, S, messages).as_dict()
    assert (r["hard"], r["unverified"], r["suppressed"]) == (1, 1, ["u0@example.org"])
    # A path that is not there is named as missing, not as the wrong kind of box.
    with pytest.raises(SourceError, match="nope does not exist"), maildir(tmp_path / "nope"):
        pass
    with (
        pytest.raises(SourceError, match=r"nope\.mbox does not exist"),
        mbox(tmp_path / "nope.mbox"),
    ):
        pass
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="not a Maildir"), maildir(tmp_path / "plain"):
        pass
    with pytest.raises(SourceError, match="not an mbox"), mbox(tmp_path / "plain"):
        pass


def test_550_at_send_time_suppresses_and_the_next_campaign_skips(engine: Engine) -> None:
    populate(engine, 3)
    cid = new_campaign(engine)
    with SmtpServer(rcpt_rules={"u1@example.org": "550 5.1.1 No such user"}) as server:
        settings = dataclasses.replace(S, smtp_host="127.0.0.1", smtp_port=server.port)
        smtp_engine(engine, settings).run(cid, threading.Event())
    with session_scope(engine) as s:
        info = describe(s, "u1@example.org")
        assert info["suppression"]["reason"] == "bounced"
        assert info["suppression"]["detail"].startswith(f"hard bounce in campaign {cid}: 550")
        assert campaign_report(s, cid).bounces["hard"] == 1
    nxt = new_campaign(engine, force=True)
    assert sorted(r.subscriber_id for r in ledger(engine, nxt)) == [1, 3]


def test_imap_mailbox_on_a_real_server(engine: Engine) -> None:
    import imaplib

    from mailer.bounces.sources import imap
    from tests.imap_server import dovecot

    sent = send_campaign(engine, 2)
    with dovecot("bounces", "s3cret") as port:
        client = imaplib.IMAP4("127.0.0.1", port)
        client.login("bounces", "s3cret")
        for message in (
            dsn(sent.verp[0], "u0@example.org", "5.1.1", "failed"),
            out_of_office("bounces@example.org", "u1@example.org"),
        ):
            client.append("INBOX", None, None, message)
        client.logout()
        url = f"imap://bounces@127.0.0.1:{port}/INBOX"
        with pytest.raises(SourceError, match="MAILER_BOUNCE_IMAP_PASSWORD"), imap(url, ""):
            pass
        with pytest.raises(SourceError, match=r"IMAP 127\.0\.0\.1"), imap(url, "wrong"):
            pass
        with imap(url, "s3cret") as messages:
            first = process_messages(engine, S, messages).as_dict()
        with imap(url, "s3cret") as messages:
            second = process_messages(engine, S, messages).as_dict()
        check = imaplib.IMAP4("127.0.0.1", port)
        check.login("bounces", "s3cret")
        check.select("INBOX")
        _, unseen = check.search(None, "UNSEEN")
        check.logout()
    assert (first["messages"], first["hard"], first["auto_replies"]) == (2, 1, 1)
    assert first["suppressed"] == ["u0@example.org"]
    assert second["already_processed"] == 2
    assert unseen[0] == b""  # read messages are flagged \Seen


def test_cli_process_ls_show_unsuppress(engine: Engine, db_url: str, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from mailer.cli import cli

    sent = send_campaign(engine, 2)
    folder = write_maildir(
        tmp_path / "box", [dsn(sent.verp[0], "u0@example.org", "5.1.1", "failed")]
    )
    env = {
        "MAILER_DATABASE_URL": db_url,
        "MAILER_BOUNCE_ADDRESS": BOUNCES,
        "MAILER_SECRET_KEY": S.secret_key,
    }
    runner = CliRunner()
    r = runner.invoke(cli, ["bounces", "process", "--maildir", str(folder), "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["suppressed"] == ["u0@example.org"]
    assert runner.invoke(cli, ["bounces", "process"], env=env).exit_code == 2
    assert (
        runner.invoke(
            cli, ["bounces", "process", "--mbox", str(tmp_path / "none")], env=env
        ).exit_code
        == 1
    )
    listed = json.loads(runner.invoke(cli, ["bounces", "ls", "--json"], env=env).output)
    assert listed["counts"]["hard"] == 1
    shown = runner.invoke(cli, ["subscribers", "show", "u0@example.org"], env=env).output
    assert "SUPPRESSED: bounced" in shown and "hard 5.1.1 bounce via dsn" in shown
    assert (
        runner.invoke(
            cli, ["subscribers", "unsuppress", "u0@example.org", "--reason", " "], env=env
        ).exit_code
        == 1
    )
    ok = runner.invoke(
        cli, ["subscribers", "unsuppress", "u0@example.org", "--reason", "mailbox fixed"], env=env
    )
    assert ok.exit_code == 0 and "Lifted the bounced suppression" in ok.output
    info = json.loads(
        runner.invoke(cli, ["subscribers", "show", "u0@example.org", "--json"], env=env).output
    )
    assert info["suppression"] is None
    assert [(h["action"], h["detail"]) for h in info["suppression_history"]][-1] == (
        "unsuppressed",
        "mailbox fixed",
    )
    assert (
        runner.invoke(
            cli, ["subscribers", "unsuppress", "u0@example.org", "--reason", "x"], env=env
        ).exit_code
        == 1
    )
