"""The words of the pages: rate limit, form errors, unsubscribing."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from mailer.db import session_scope
from subscribers.members import add_subscriber
from subscribers.tokens import Purpose
from tests.mailer.web.test_routes import token


def test_the_rate_limit_page_says_so_and_when_to_come_back(client: TestClient) -> None:
    for _ in range(3):
        client.post("/lists/lmec-news/subscribe", data={"email": "r@example.org"})
    page = client.post("/lists/lmec-news/subscribe", data={"email": "r+again@example.org"})
    assert page.status_code == 429 and "<h1>Too many requests</h1>" in page.text
    assert 3500 <= int(page.headers["Retry-After"]) <= 3600
    api = client.post("/api/lists/lmec-news/subscribe", json={"email": "R@example.org"})
    assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0


def test_a_form_error_names_the_field_in_words(client: TestClient) -> None:
    page = client.post("/lists/lmec-news/subscribe", data={"email": "no-at-sign"})
    assert page.status_code == 422
    assert "Please check the email address: An email address must have an @-sign." in page.text
    zh = client.post(
        "/lists/lmec-news/subscribe",
        data={"email": "x@example.org", "language": "??"},
        headers={"Accept-Language": "zh"},
    )
    assert zh.status_code == 422 and "请检查语言：" in zh.text


def test_unsubscribing_explains_everything_and_offers_a_way_back(
    client: TestClient, engine: Engine
) -> None:
    with session_scope(engine) as s:
        add_subscriber(s, "u@example.org", "lmec-news", confirmed=True)
    url = f"/unsubscribe/{token(engine, Purpose.UNSUBSCRIBE, 'u@example.org', 'lmec-news')}"
    page = client.get(url)
    assert "This stops all mail from LMEC: every newsletter" in page.text
    done = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert 'href="/lists/lmec-news/subscribe"' in done.text and "Subscribe again" in done.text
    everything = client.post(url, data={"scope": "all"})
    assert "Subscribe again" not in everything.text  # suppressed: the form would not take it
