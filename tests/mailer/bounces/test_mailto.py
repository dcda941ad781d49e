"""The List-Unsubscribe mailto: works, for exactly the person and list it names.

Addresses come from messages really sent over SMTP; the unsubscribe mails
are read from a real Maildir by `bounces process` and by `mailer run`'s poll.
"""

import dataclasses
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, select

from mailer.bounces.mailto import (
    MAX_LOCAL,
    mailto_maker,
    parse_unsubscribe,
    unsubscribe_address,
)
from mailer.cli import cli
from mailer.db import session_scope
from mailer.delivery.engine import DeliveryEngine
from mailer.scheduler.runner import Runner
from mailer.transport.memory import MemoryTransport
from subscribers.lists import create_list
from subscribers.members import add_subscriber
from subscribers.models import MailingList, Subscriber, Subscription
from tests.mailer.bounces.samples import unsubscribe_mail
from tests.mailer.bounces.sent import BOUNCES, S, send_campaign, write_maildir
from tests.waiting import wait_for


def statuses(engine: Engine) -> dict[tuple[str, str], str]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(Subscriber.email, MailingList.slug, Subscription.status)
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)
            .join(MailingList, MailingList.id == Subscription.list_id)
        ).all()
    return {(email, slug): status for email, slug, status in rows}


def test_address_fits_a_local_part_and_cannot_be_made_for_someone_else() -> None:
    address = unsubscribe_address(BOUNCES, "k", 2**32 - 1, 65535, "Li.Wei@example.org")
    assert address is not None and len(address.split("@")[0]) <= MAX_LOCAL
    claim = parse_unsubscribe(address.upper(), BOUNCES)  # servers that upper-case
    assert claim is not None and (claim.subscriber_id, claim.list_id) == (2**32 - 1, 65535)
    assert claim.genuine("k", "li.wei@example.org")
    assert not claim.genuine("k", "someone.else@example.org")  # bound to the person
    assert not claim.genuine("other-key", "li.wei@example.org")
    assert parse_unsubscribe(address, "bounces@elsewhere.example") is None
    assert parse_unsubscribe("bounces+1-1-aaaaaaaaaa@example.org", BOUNCES) is None  # a VERP
    long_base = "a-very-long-bounce-mailbox-name-for-this-list@example.org"
    assert unsubscribe_address(long_base, "k", 1, 1, "x@example.org") is None
    assert mailto_maker(long_base, "k", 1)(1, "x@example.org") is None


def test_mailto_unsubscribes_that_subscriber_from_that_list_only(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    sent = send_campaign(engine, 4)
    with session_scope(engine) as s:
        create_list(s, "events", title="Events")
        add_subscriber(s, "u0@example.org", "events", confirmed=True)
    local, _, domain = sent.mailto[1].partition("@")
    u2 = parse_unsubscribe(sent.mailto[2], BOUNCES)
    assert u2 is not None and u2.subscriber_id == 3
    u2_tag_for_u1 = f"bounces+u-2-{u2.list_id:x}-{u2.tag}@example.org"
    wrong_tag = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    folder = write_maildir(
        tmp_path / "bounces",
        [
            unsubscribe_mail(sent.mailto[0], "u0@example.org"),
            unsubscribe_mail(wrong_tag, "x@evil.example"),
            unsubscribe_mail(u2_tag_for_u1, "x@evil.example"),
            unsubscribe_mail(BOUNCES, "u3@example.org"),  # unsigned: a plain note to us
            unsubscribe_mail("news@example.org", "u3@example.org", delivered_to=BOUNCES),
        ],
    )
    env = {
        "MAILER_DATABASE_URL": db_url,
        "MAILER_BOUNCE_ADDRESS": BOUNCES,
        "MAILER_SECRET_KEY": S.secret_key,
    }
    runner = CliRunner()
    r = runner.invoke(cli, ["bounces", "process", "--maildir", str(folder), "--json"], env=env)
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["unsubscribed"] == ["u0@example.org"] and report["unsubscribes"] == 1
    assert report["unverified"] == 2 and report["suppressed"] == []
    assert statuses(engine) == {
        ("u0@example.org", "lmec-news"): "unsubscribed",
        ("u0@example.org", "events"): "confirmed",
        ("u1@example.org", "lmec-news"): "confirmed",
        ("u2@example.org", "lmec-news"): "confirmed",
        ("u3@example.org", "lmec-news"): "confirmed",
    }
    listed = json.loads(runner.invoke(cli, ["bounces", "ls", "--json"], env=env).output)
    assert [u["detail"] for u in listed["unsubscribes"]] == [
        "subscriber 1 unsubscribed from lmec-news by mail"
    ]
    assert all("signature does not verify" in u["detail"] for u in listed["unverified"])
    shown = runner.invoke(cli, ["subscribers", "show", "u0@example.org"], env=env).output
    assert "list lmec-news: unsubscribed" in shown and "list events: confirmed" in shown


def test_mailer_run_polls_the_bounce_mailbox_for_unsubscribes(
    engine: Engine, tmp_path: Path
) -> None:
    sent = send_campaign(engine, 2)
    folder = write_maildir(
        tmp_path / "bounces", [unsubscribe_mail(sent.mailto[1], "u1@example.org")]
    )
    settings = dataclasses.replace(S, bounce_mailbox=str(folder), bounce_poll_seconds=0.2)
    deliver = DeliveryEngine(engine, settings, MemoryTransport, envelope_from="b@example.org")
    runner = Runner(engine, settings, deliver, sweep_seconds=0.2)
    runner.start()
    try:
        assert wait_for(lambda: statuses(engine)[("u1@example.org", "lmec-news")] == "unsubscribed")
    finally:
        runner.stop()
    assert statuses(engine)[("u0@example.org", "lmec-news")] == "confirmed"
