"""An erased person's links and bounces never act on whoever comes next,
even when the newcomer holds the very same id."""

import dataclasses
import email

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from mailer.bounces.process import process_messages
from mailer.bounces.verp import verp_address
from mailer.db import session_scope
from subscribers.members import add_subscriber, describe, erase
from subscribers.models import Subscriber
from subscribers.tokens import Purpose
from tests.mailer.bounces.samples import dsn
from tests.mailer.web.conftest import SETTINGS
from tests.mailer.web.test_routes import TOKENS, status

BOUNCES = "bounces@example.org"
BOUNCE_SETTINGS = dataclasses.replace(SETTINGS, bounce_address=BOUNCES)


def _links(engine: Engine, address: str) -> tuple[int, list[str], str]:
    with session_scope(engine) as s:
        sub = s.scalar(select(Subscriber).where(Subscriber.email_normalized == address))
        assert sub is not None and sub.link_key is not None
        sid, key = sub.id, sub.link_key
        lid = sub.subscriptions[0].list_id
    links = [
        f"/unsubscribe/{TOKENS.make(Purpose.UNSUBSCRIBE, sid, lid, key)}",
        f"/preferences/{TOKENS.make(Purpose.PREFERENCES, sid, key=key)}",
    ]
    return sid, links, verp_address(BOUNCES, SETTINGS.secret_key, 1, sid, key)


def _act(client: TestClient, engine: Engine, links: list[str], verp: str) -> list[int]:
    codes = []
    for link in links:
        codes.append(client.get(link).status_code)
        codes.append(client.post(link, data={"scope": "all", "lists": []}).status_code)
    bounce = dsn(verp, "old@example.org", "5.1.1", "failed", vague=True)
    report = process_messages(engine, BOUNCE_SETTINGS, [bounce])
    assert report.suppressed == []
    return codes


@pytest.mark.parametrize("same_id", [False, True], ids=["next-id", "same-id"])
def test_erase_then_add_old_links_and_verp_act_on_nobody(
    client: TestClient, engine: Engine, same_id: bool
) -> None:
    with session_scope(engine) as s:
        add_subscriber(s, "old@example.org", "lmec-news", confirmed=True)
    old_id, links, verp = _links(engine, "old@example.org")
    # Before the erase, the same links and bounce do act (so the test can fail).
    finding_msg = email.message_from_bytes(dsn(verp, "old@example.org", "5.1.1", "failed"))
    assert finding_msg["To"] == verp
    with session_scope(engine) as s:
        erase(s, "old@example.org")
        if same_id:  # what SQLite did before AUTOINCREMENT: the id given out again
            s.add(
                Subscriber(
                    id=old_id,
                    email="new@example.org",
                    email_normalized="new@example.org",
                    email_hash="0" * 64,
                    name="New",
                    attributes={},
                )
            )
            s.flush()
            if engine.dialect.name == "postgresql":
                s.execute(text("SELECT setval('subscribers_id_seq', :n)"), {"n": old_id})
    with session_scope(engine) as s:
        new = add_subscriber(s, "new@example.org", "lmec-news", confirmed=True).subscriber
        new_id = new.id
    assert (new_id == old_id) is same_id  # AUTOINCREMENT (and PostgreSQL) never reuse
    codes = _act(client, engine, links, verp)
    assert codes == [404, 404, 404, 404]
    assert status(engine, "new@example.org", "lmec-news") == "confirmed"
    with session_scope(engine) as s:
        info = describe(s, "new@example.org")
        # The preferences POST (no name) would have blanked the name had it acted.
        assert info["suppression"] is None
        assert info["subscriber"]["name"] == ("New" if same_id else "")


def test_the_same_links_act_while_their_person_is_there(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as s:
        add_subscriber(s, "here@example.org", "lmec-news", confirmed=True)
    _, links, verp = _links(engine, "here@example.org")
    assert client.get(links[1]).status_code == 200
    bounce = dsn(verp, "here@example.org", "5.1.1", "failed", vague=True)
    report = process_messages(engine, BOUNCE_SETTINGS, [bounce])
    assert report.suppressed == ["here@example.org"]
    assert client.post(links[0], data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert status(engine, "here@example.org", "lmec-news") == "unsubscribed"
