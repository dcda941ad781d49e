import pytest
from sqlalchemy.orm import Session

from subscribers import lists, members
from subscribers.errors import AlreadyExists, InvalidInput, NotFound
from subscribers.models import Subscriber


def test_create_and_summarize(session: Session) -> None:
    lists.create_list(session, "lmec-news", title="LMEC Newsletter", double_opt_in=False)
    lists.create_list(session, "alerts")
    members.add_subscriber(session, "a@example.org", "lmec-news")
    members.add_subscriber(session, "b@example.org", "alerts")
    members.add_subscriber(session, "c@example.org", "alerts", confirmed=True)
    members.unsubscribe(session, "b@example.org", "alerts")

    summaries = {x.slug: x for x in lists.summarize_lists(session)}
    assert summaries["lmec-news"].title == "LMEC Newsletter"
    assert summaries["lmec-news"].counts == {"unconfirmed": 0, "confirmed": 1, "unsubscribed": 0}
    assert summaries["alerts"].counts == {"unconfirmed": 0, "confirmed": 1, "unsubscribed": 1}
    assert lists.summarize_list(session, "alerts").total == 2


def test_names_are_unique_and_checked(session: Session) -> None:
    lists.create_list(session, "news")
    with pytest.raises(AlreadyExists):
        lists.create_list(session, "news")
    for bad in ("News", "with space", "-dash", "x" * 101, ""):
        with pytest.raises(InvalidInput):
            lists.create_list(session, bad)


def test_remove_keeps_subscribers(session: Session) -> None:
    lists.create_list(session, "news")
    members.add_subscriber(session, "a@example.org", "news")
    lists.remove_list(session, "news")
    session.expire_all()
    assert session.query(Subscriber).count() == 1
    with pytest.raises(NotFound):
        lists.get_list(session, "news")
