import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from mailer.db import session_scope
from mailer.message import OutgoingMessage
from mailer.web.app import create_app
from subscribers.lists import create_list
from subscribers.members import add_subscriber
from tests.mailer.web.conftest import SETTINGS
from tests.mailer.web.staff import PASSWORD, Staff, make_staff


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
def outbox() -> list[OutgoingMessage]:
    return []


@pytest.fixture
def console(engine: Engine, outbox: list[OutgoingMessage]) -> Iterator[tuple[TestClient, Staff]]:
    staff = make_staff(engine)
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=False)
        for i in range(3):
            add_subscriber(s, f"u{i}@example.org", "lmec-news", confirmed=True)
    with TestClient(
        create_app(SETTINGS, engine, send=outbox.append), base_url="https://testserver"
    ) as c:
        yield c, staff


@pytest.fixture
def login(console: tuple[TestClient, Staff]) -> Callable[[str], TestClient]:
    c, _ = console

    def log_in(role: str) -> TestClient:
        c.cookies.clear()
        form = c.get("/admin/login")
        r = c.post(
            "/admin/login",
            data={"email": f"{role}@example.org", "password": PASSWORD, "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return c

    return log_in
