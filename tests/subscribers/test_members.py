import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from subscribers import lists, members
from subscribers.addresses import address_hash
from subscribers.errors import InvalidInput, NotFound, Suppressed
from subscribers.models import Subscriber, Subscription, Suppression


@pytest.fixture
def news(session: Session) -> str:
    lists.create_list(session, "news", double_opt_in=True)
    return "news"


def test_add_double_opt_in_is_unconfirmed_until_confirmed(session: Session, news: str) -> None:
    r = members.add_subscriber(session, "Li.Wei@Example.org", news, name="Li Wei")
    assert (r.created, r.status) == (True, "unconfirmed")
    r = members.add_subscriber(session, "li.wei@example.ORG", news, confirmed=True)
    assert (r.created, r.status) == (False, "confirmed")
    sub = session.scalar(select(Subscriber))
    assert sub is not None
    assert sub.email == "Li.Wei@Example.org"  # as first given
    assert sub.email_normalized == "li.wei@example.org"
    assert sub.name == "Li Wei"  # a blank name did not erase it
    assert sub.consent_source == "cli" and sub.consent_at is not None


def test_add_merges_attributes_and_checks_fields(session: Session, news: str) -> None:
    members.add_subscriber(session, "a@example.org", news, attributes={"country": "LA"})
    members.add_subscriber(session, "a@example.org", news, attributes={"org": "MRC"})
    sub = session.scalar(select(Subscriber))
    assert sub is not None and sub.attributes == {"country": "LA", "org": "MRC"}
    with pytest.raises(InvalidInput, match="language"):
        members.add_subscriber(session, "a@example.org", news, language="not a tag")
    with pytest.raises(InvalidInput, match="name"):
        members.add_subscriber(session, "a@example.org", news, name="Eve\r\nBcc: x@y.z")
    with pytest.raises(InvalidInput, match="attribute"):
        members.add_subscriber(session, "a@example.org", news, attributes={"1bad": "x"})
    with pytest.raises(NotFound):
        members.add_subscriber(session, "a@example.org", "nope")


def test_unsubscribe_one_list_then_all(session: Session, news: str) -> None:
    lists.create_list(session, "alerts")
    members.add_subscriber(session, "a@example.org", news, confirmed=True)
    members.add_subscriber(session, "a@example.org", "alerts", confirmed=True)
    assert members.unsubscribe(session, "A@example.org", news) == [news]
    with pytest.raises(InvalidInput, match="unsubscribed"):
        members.add_subscriber(session, "a@example.org", news)
    assert members.unsubscribe(session, "a@example.org") == ["alerts"]
    statuses = set(session.scalars(select(Subscription.status)))
    assert statuses == {"unsubscribed"}
    assert session.scalar(select(Suppression.reason)) == "unsubscribed"


def test_suppressed_address_cannot_be_added(session: Session, news: str) -> None:
    row, created = members.suppress(session, "Spam@Example.org", detail="trap")
    assert created and row.reason == "manual"
    assert members.suppress(session, "spam@example.org")[1] is False
    with pytest.raises(Suppressed):
        members.add_subscriber(session, "spam@example.org", news)


def test_erase_removes_personal_data_and_keeps_a_hash(session: Session, news: str) -> None:
    members.add_subscriber(session, "gone@example.org", news, name="Gone", attributes={"x": "y"})
    assert members.erase(session, "GONE@example.org") is True
    session.expire_all()
    assert session.scalar(select(Subscriber)) is None
    assert session.scalar(select(Subscription)) is None
    supp = session.scalar(select(Suppression))
    assert supp is not None
    assert supp.email is None and supp.reason == "erased"
    assert supp.email_hash == address_hash("gone@example.org")
    with pytest.raises(Suppressed):
        members.add_subscriber(session, "gone@example.org", news)
    info = members.describe(session, "gone@example.org")
    assert info["subscriber"] is None and info["suppression"]["reason"] == "erased"


def test_describe_and_iter_members(session: Session, news: str) -> None:
    members.add_subscriber(session, "b@example.org", news, name="B", language="zh-CN")
    members.add_subscriber(session, "a@example.org", news, confirmed=True)
    info = members.describe(session, "b@example.org")
    assert info["subscriber"]["language"] == "zh-CN"
    assert info["subscriber"]["subscriptions"][0]["status"] == "unconfirmed"
    rows = list(members.iter_members(session, news))
    assert [r[0] for r in rows] == ["a@example.org", "b@example.org"]
    assert [r[0] for r in members.iter_members(session, status="confirmed")] == ["a@example.org"]
    with pytest.raises(InvalidInput, match=r"^status: "):
        list(members.iter_members(session, status="bogus"))
    with pytest.raises(NotFound):
        members.describe(session, "nobody@example.org")
