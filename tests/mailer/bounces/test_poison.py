"""One message no parser can read never stops the mailbox.

flufl.bounce's Yale detector raises IndexError on any single-part message
without a From header; such a message, between two good DSNs in a real
Maildir, is recorded as poison with its error, moved to the .poison folder,
and the run goes on — twice, the second run changing nothing.
"""

import email
import mailbox
import random
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from mailer.bounces import dsn
from mailer.bounces.classify import classify
from mailer.bounces.process import process_messages
from mailer.campaigns.models import BounceEvent, ProcessedMessage
from mailer.cli import cli
from mailer.db import session_scope
from subscribers.models import Suppression
from tests.mailer.bounces.samples import arf, postfix_dsn
from tests.mailer.bounces.samples import dsn as make_dsn
from tests.mailer.bounces.sent import BOUNCES, S, send_campaign, write_maildir

POISON = b"Subject: Re: your newsletter\r\nX-Mailer: broken\r\n\r\nno From header, one part\r\n"
UNKNOWN = "smtp; 550 5.1.1 Recipient address rejected: User unknown"


def test_poison_between_two_good_dsns(engine: Engine, db_url: str, tmp_path: Path) -> None:
    sent = send_campaign(engine, 2)
    folder = write_maildir(
        tmp_path / "bounces",
        [
            postfix_dsn(sent.verp[0], [("u0@example.org", "failed", "5.1.1", UNKNOWN)], "1A"),
            POISON,
            postfix_dsn(sent.verp[1], [("u1@example.org", "failed", "5.1.1", UNKNOWN)], "2B"),
        ],
    )
    box = mailbox.Maildir(str(folder))
    assert [box.get_bytes(k) for k in sorted(box.keys())][1] == POISON  # read in the middle
    env = {
        "MAILER_DATABASE_URL": db_url,
        "MAILER_BOUNCE_ADDRESS": BOUNCES,
        "MAILER_SECRET_KEY": S.secret_key,
    }
    runner = CliRunner()
    first = runner.invoke(cli, ["bounces", "process", "--maildir", str(folder)], env=env)
    assert first.exit_code == 0, first.output
    assert "2 hard" in first.output and "1 poison" in first.output
    assert "poison (no Message-ID): IndexError in yale.py" in first.output
    assert "suppressed u0@example.org" in first.output
    assert "suppressed u1@example.org" in first.output
    assert len(mailbox.Maildir(str(folder))) == 2
    aside = mailbox.Maildir(str(folder)).get_folder("poison")
    assert [aside.get_bytes(k) for k in aside.iterkeys()] == [POISON]  # byte for byte
    with session_scope(engine) as s:
        before = s.execute(select(ProcessedMessage.outcome, ProcessedMessage.detail)).all()
        events = s.scalar(select(func.count()).select_from(BounceEvent))
    assert sorted(o for o, _ in before) == ["hard", "hard", "poison"]

    second = runner.invoke(cli, ["bounces", "process", "--maildir", str(folder)], env=env)
    assert second.exit_code == 0, second.output
    assert "2 messages (2 already processed)" in second.output
    with session_scope(engine) as s:
        assert s.execute(select(ProcessedMessage.outcome, ProcessedMessage.detail)).all() == before
        assert s.scalar(select(func.count()).select_from(BounceEvent)) == events
    listed = runner.invoke(cli, ["bounces", "ls"], env=env).output
    assert "Poison messages (set aside): 1" in listed and "IndexError in yale.py" in listed


def test_poison_in_an_mbox_stays_and_is_skipped(engine: Engine, tmp_path: Path) -> None:
    box = mailbox.mbox(str(tmp_path / "bounces.mbox"))
    box.add(POISON)
    box.flush()
    for expected in (1, 0):
        r = process_messages(engine, S, [box.get_bytes(k) for k in box.iterkeys()]).as_dict()
        assert len(r["poison"]) == expected


def mutate(raw: bytes, rnd: random.Random, edits: int) -> bytes:
    data = bytearray(raw)
    for _ in range(edits):
        at = rnd.randrange(len(data) + 1)
        choice = rnd.random()
        if choice < 0.4 and at < len(data):
            del data[at : at + rnd.randint(1, 40)]
        elif choice < 0.7:
            data[at:at] = rnd.choice(
                [
                    b"\r\n",
                    b"\r\n\r\n",
                    b"--B",
                    b"--F",
                    b";",
                    b"<",
                    b">",
                    b"\x00",
                    b"\xff",
                    b"=?",
                    b":",
                ]
            )
        elif at < len(data):
            data[at] = rnd.randrange(256)
    return bytes(data)


SEEDS = [
    make_dsn("bounces+1-1-aaaaaaaaaa@example.org", "u0@example.org", "5.1.1", "failed"),
    make_dsn("bounces@example.org", "u0@example.org", "4.4.1", "delayed", vague=True),
    postfix_dsn(BOUNCES, [("u0@example.org", "failed", "5.7.1", UNKNOWN)]),
    arf("<1.1.0123456789ab@example.org>", "u0@example.org"),
    POISON,
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=2000),
            st.tuples(st.sampled_from(SEEDS), st.integers(0, 2**32), st.integers(1, 12)).map(
                lambda t: mutate(t[0], random.Random(t[1]), t[2])
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_arbitrary_and_mutated_reports_never_crash_a_run(
    engine: Engine, batch: list[bytes]
) -> None:
    """Whatever arrives, the run ends, every message is accounted for, and
    (none carrying a valid VERP tag or Message-ID) nobody is suppressed."""
    r = process_messages(engine, S, batch).as_dict()
    assert r["messages"] == len(batch)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Suppression)) == 0
        assert s.scalar(select(func.count()).select_from(BounceEvent)) == 0


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=3000)
    | st.sampled_from(SEEDS)
    .flatmap(lambda seed: st.tuples(st.just(seed), st.integers(0, 2**32), st.integers(1, 20)))
    .map(lambda t: mutate(t[0], random.Random(t[1]), t[2]))
)
def test_our_own_parsers_never_raise(raw: bytes) -> None:
    """The DSN and proof readers are ours: they must not need the poison net."""
    msg = email.message_from_bytes(raw)
    for status in dsn.recipients(msg):
        assert "\x00" not in status.diagnostic + status.recipient
    dsn.choose(dsn.recipients(msg))
    try:
        classify(msg, BOUNCES, S.secret_key)
    except Exception as exc:
        # Only flufl.bounce's detectors may fail (the poison net catches them).
        assert "flufl" in _origin(exc), exc


def _origin(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename if tb is not None else ""
