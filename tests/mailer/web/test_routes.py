import email
import email.policy
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from mailer.db import session_scope
from mailer.message import OutgoingMessage
from mailer.web.app import WebState
from subscribers.members import add_subscriber, describe, suppress
from subscribers.models import MailingList, Subscriber
from subscribers.tokens import Purpose, Tokens
from tests.mailer.web.conftest import SETTINGS

TOKENS = Tokens(SETTINGS.secret_key)


def ids(engine: Engine, email_: str, slug: str) -> tuple[int, int]:
    with session_scope(engine) as s:
        sub = s.scalar(select(Subscriber).where(Subscriber.email_normalized == email_.lower()))
        ml = s.scalar(select(MailingList).where(MailingList.slug == slug))
        assert sub is not None and ml is not None
        return sub.id, ml.id


def key_of(engine: Engine, email_: str) -> str | None:
    with session_scope(engine) as s:
        return s.scalar(
            select(Subscriber.link_key).where(Subscriber.email_normalized == email_.lower())
        )


def token(engine: Engine, purpose: Purpose, email_: str, slug: str | None = None) -> str:
    """A link token as mail carries it: bound to the subscriber's key."""
    sid, lid = ids(engine, email_, slug or "lmec-news")
    return TOKENS.make(purpose, sid, lid if slug else None, key_of(engine, email_))


def status(engine: Engine, email_: str, slug: str) -> str | None:
    with session_scope(engine) as s:
        info = describe(s, email_)["subscriber"]
    found = [x["status"] for x in info["subscriptions"] if x["list"] == slug]
    return found[0] if found else None


def link_in(message: OutgoingMessage) -> str:
    msg = email.message_from_bytes(message.data, policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"https://news\.example\.org(/confirm/\S+)", text)
    assert found
    return found.group(1)


def test_subscribe_form_and_double_opt_in(
    client: TestClient,
    engine: Engine,
    outbox: list[OutgoingMessage],
    deliver: Callable[[], int],
) -> None:
    page = client.get("/lists/lmec-news/subscribe")
    assert (
        page.status_code == 200 and '<label for="email">' in page.text and 'lang="en"' in page.text
    )
    zh = client.get(
        "/lists/lmec-news/subscribe", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    )
    assert 'lang="zh"' in zh.text and "订阅" in zh.text
    r = client.post(
        "/lists/lmec-news/subscribe", data={"email": "Li.Wei@Example.org", "name": "Li Wei"}
    )
    assert r.status_code == 200 and "Check your inbox" in r.text
    assert outbox == []  # the request only queued it
    assert deliver() == 1
    assert status(engine, "li.wei@example.org", "lmec-news") == "unconfirmed"
    assert len(outbox) == 1
    msg = email.message_from_bytes(outbox[0].data, policy=email.policy.default)
    assert msg["Auto-Submitted"] == "auto-generated" and "LMEC Newsletter" in msg["Subject"]
    confirm = link_in(outbox[0])
    page = client.get(confirm)  # what a mail scanner does: changes nothing
    assert page.status_code == 200 and f'<form method="post" action="{confirm}">' in page.text
    assert status(engine, "li.wei@example.org", "lmec-news") == "unconfirmed"
    ok = client.post(confirm)
    assert ok.status_code == 200 and "Subscription confirmed" in ok.text
    assert status(engine, "li.wei@example.org", "lmec-news") == "confirmed"
    again = client.post(confirm)
    assert again.status_code == 200 and "was used before" in again.text


def test_responses_never_reveal_who_is_subscribed(
    client: TestClient,
    engine: Engine,
    outbox: list[OutgoingMessage],
    deliver: Callable[[], int],
) -> None:
    with session_scope(engine) as s:
        add_subscriber(s, "known@example.org", "lmec-news", confirmed=True)
        suppress(s, "blocked@example.org")
    answers = []
    for address in ("known@example.org", "blocked@example.org", "new@example.org"):
        r = client.post("/api/lists/lmec-news/subscribe", json={"email": address})
        answers.append((r.status_code, r.json()))
        page = client.post("/lists/lmec-news/subscribe", data={"email": address})
        assert page.status_code == 200 and address in page.text and "Check your inbox" in page.text
    assert (
        answers[0]
        == answers[1]
        == answers[2]
        == (202, {"status": "accepted", "message": "check the inbox for a confirmation link"})
    )
    deliver()
    # Two requests for the new address waiting at once make one confirmation.
    assert [m.envelope_to for m in outbox] == ["new@example.org"]
    with session_scope(engine) as s:
        assert describe(s, "blocked@example.org")["subscriber"] is None


def test_single_opt_in_confirms_at_once(
    client: TestClient,
    engine: Engine,
    outbox: list[OutgoingMessage],
    deliver: Callable[[], int],
) -> None:
    r = client.post(
        "/api/lists/alerts/subscribe", json={"email": "a@example.org", "language": "zh"}
    )
    assert r.status_code == 202 and r.json()["message"] == "subscribed"
    assert deliver() == 0
    assert status(engine, "a@example.org", "alerts") == "confirmed" and outbox == []


def test_bad_input_and_unknown_lists(client: TestClient) -> None:
    assert client.post("/api/lists/lmec-news/subscribe", json={"email": "nope"}).status_code == 422
    assert (
        client.post(
            "/api/lists/lmec-news/subscribe", json={"email": "a@b.org", "language": "klingon!"}
        ).status_code
        == 422
    )
    assert client.post("/api/lists/nope/subscribe", json={"email": "a@b.org"}).status_code == 404
    assert client.post("/api/lists/staff/subscribe", json={"email": "a@b.org"}).status_code == 404
    assert client.get("/lists/staff/subscribe").status_code == 404
    form = client.post("/lists/lmec-news/subscribe", data={"email": "not-an-address"})
    assert (
        form.status_code == 422
        and 'role="alert"' in form.text
        and 'value="not-an-address"' in form.text
    )


def test_rate_limits(client: TestClient) -> None:
    web: WebState = client.app.state.web  # type: ignore[attr-defined]
    codes = [
        client.post("/api/lists/alerts/subscribe", json={"email": "same@example.org"}).status_code
        for _ in range(4)
    ]
    assert codes == [202, 202, 202, 429]  # three per address per hour
    web.per_email.limit = 1000
    codes = [
        client.post("/api/lists/alerts/subscribe", json={"email": f"p{i}@example.org"}).status_code
        for i in range(10)
    ]
    assert codes == [202] * 6 + [429] * 4  # ten per client per minute: calls 11 to 14 refused


def test_confirm_link_errors(
    client: TestClient,
    engine: Engine,
    outbox: list[OutgoingMessage],
    deliver: Callable[[], int],
) -> None:
    from datetime import timedelta

    client.post("/lists/lmec-news/subscribe", data={"email": "late@example.org"})
    deliver()
    sid, lid = ids(engine, "late@example.org", "lmec-news")
    expired = Tokens(SETTINGS.secret_key, {Purpose.CONFIRM: timedelta(seconds=-1)})
    web: WebState = client.app.state.web  # type: ignore[attr-defined]
    web.tokens = expired
    old = expired.make(Purpose.CONFIRM, sid, lid, key_of(engine, "late@example.org"))
    assert client.post(f"/confirm/{old}").status_code == 410  # nor does the button
    r = client.get(f"/confirm/{old}")
    assert (
        r.status_code == 410
        and "has expired" in r.text
        and f'action="/confirm/{old}/resend"' in r.text
    )
    web.tokens = TOKENS
    assert client.post(f"/confirm/{old}/resend").status_code == 200
    assert deliver() == 1
    assert len(outbox) == 2 and client.post(link_in(outbox[1])).status_code == 200
    assert status(engine, "late@example.org", "lmec-news") == "confirmed"
    forged = client.get("/confirm/eyJmb3JnZWQiOnRydWV9.abc.def")
    unsub_as_confirm = client.get(f"/confirm/{TOKENS.make(Purpose.UNSUBSCRIBE, sid, lid)}")
    assert forged.status_code == unsub_as_confirm.status_code == 404
    assert forged.text == unsub_as_confirm.text


def unsubscribe_url(engine: Engine, email_: str, slug: str) -> str:
    return f"/unsubscribe/{token(engine, Purpose.UNSUBSCRIBE, email_, slug)}"


def test_rfc8058_one_click_both_encodings_idempotent(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as s:
        for who in ("form@example.org", "multi@example.org"):
            add_subscriber(s, who, "lmec-news", confirmed=True)
            add_subscriber(s, who, "alerts", confirmed=True)
    url = unsubscribe_url(engine, "form@example.org", "lmec-news")
    page = client.get(url)
    assert page.status_code == 200 and "<button" in page.text
    assert status(engine, "form@example.org", "lmec-news") == "confirmed"  # GET changes nothing
    fresh = TestClient(client.app, cookies=None)
    r = fresh.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 200 and "location" not in r.headers
    assert status(engine, "form@example.org", "lmec-news") == "unsubscribed"
    assert status(engine, "form@example.org", "alerts") == "confirmed"  # that list only
    again = fresh.post(url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert (
        again.status_code == 200
        and status(engine, "form@example.org", "lmec-news") == "unsubscribed"
    )

    url2 = unsubscribe_url(engine, "multi@example.org", "lmec-news")
    r = fresh.post(url2, files={"List-Unsubscribe": (None, "One-Click")}, follow_redirects=False)
    assert r.status_code == 200 and "location" not in r.headers
    assert r.request.headers["content-type"].startswith("multipart/form-data")
    assert status(engine, "multi@example.org", "lmec-news") == "unsubscribed"


def test_unsubscribe_from_everything_and_token_misuse(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as s:
        add_subscriber(s, "all@example.org", "lmec-news", confirmed=True)
        add_subscriber(s, "all@example.org", "alerts", confirmed=True)
        add_subscriber(s, "victim@example.org", "lmec-news", confirmed=True)
    url = unsubscribe_url(engine, "all@example.org", "lmec-news")
    r = client.post(url, data={"scope": "all"})
    assert r.status_code == 200 and "nothing more" in r.text
    assert status(engine, "all@example.org", "alerts") == "unsubscribed"
    with session_scope(engine) as s:
        assert describe(s, "all@example.org")["suppression"]["reason"] == "unsubscribed"
    sid, lid = ids(engine, "victim@example.org", "lmec-news")
    key = key_of(engine, "victim@example.org")
    attempts = [
        f"/unsubscribe/{TOKENS.make(Purpose.CONFIRM, sid, lid, key)}",  # a confirm token
        f"/unsubscribe/{TOKENS.make(Purpose.PREFERENCES, sid, key=key)}",  # a preferences token
        f"/unsubscribe/{Tokens('another-key').make(Purpose.UNSUBSCRIBE, sid, lid, key)}",  # forged
        f"/unsubscribe/{TOKENS.make(Purpose.UNSUBSCRIBE, sid, lid)}",  # without the key
        url[:-3] + "abc",  # tampered
    ]
    answers = {
        (client.post(a, data={"List-Unsubscribe": "One-Click"}).status_code, client.get(a).text)
        for a in attempts
    }
    assert len(answers) == 1 and next(iter(answers))[0] == 404
    assert status(engine, "victim@example.org", "lmec-news") == "confirmed"


def test_preferences(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as s:
        add_subscriber(s, "pref@example.org", "lmec-news", name="Old", confirmed=True)
    sid, _ = ids(engine, "pref@example.org", "lmec-news")
    _, alerts = ids(engine, "pref@example.org", "alerts")
    url = f"/preferences/{token(engine, Purpose.PREFERENCES, 'pref@example.org')}"
    page = client.get(url)
    assert page.status_code == 200 and 'value="Old"' in page.text and "Staff only" not in page.text
    r = client.post(url, data={"name": "New Name", "language": "zh", "lists": [str(alerts)]})
    assert r.status_code == 200 and 'lang="zh"' in r.text and "已保存" in r.text
    assert status(engine, "pref@example.org", "lmec-news") == "unsubscribed"
    assert status(engine, "pref@example.org", "alerts") == "confirmed"
    bad = client.post(url, data={"name": "x\r\ny", "language": "en"})
    assert bad.status_code == 422
    assert client.get(f"/preferences/{TOKENS.make(Purpose.CONFIRM, sid, 1)}").status_code == 404
    assert client.get(f"/preferences/{TOKENS.make(Purpose.PREFERENCES, sid)}").status_code == 404
    # Unicode digits ("²".isdigit() is True) are refused as a field error, not a crash.
    odd = client.post(url, data={"name": "N", "language": "en", "lists": ["²", "١"]})
    assert odd.status_code == 422 and "lists" in odd.text
    assert status(engine, "pref@example.org", "alerts") == "confirmed"  # nothing changed


def test_healthz_and_empty_archive(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    r = client.get("/archive")
    assert r.status_code == 200 and "No issues have been sent yet." in r.text
    assert client.get("/archive/nothing").status_code == 404
