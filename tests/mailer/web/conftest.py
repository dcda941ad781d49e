import dataclasses
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from mailer.db import session_scope
from mailer.message import OutgoingMessage
from mailer.settings import Settings
from mailer.web.app import create_app
from subscribers.lists import create_list

SETTINGS = dataclasses.replace(
    Settings(),
    secret_key="web-test-secret",
    base_url="https://news.example.org",
    from_address="LMEC <news@example.org>",
)


@pytest.fixture
def outbox() -> list[OutgoingMessage]:
    return []


@pytest.fixture
def client(engine: Engine, outbox: list[OutgoingMessage]) -> Iterator[TestClient]:
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=True)
        create_list(s, "alerts", title="Alerts", double_opt_in=False)
        create_list(s, "staff", title="Staff only", public=False)
    app = create_app(SETTINGS, engine, send=outbox.append)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def deliver(client: TestClient) -> Callable[[], int]:
    """Run the confirmation outbox once, as the worker of `mailer run` does."""
    return lambda: int(client.app.state.web.outbox.deliver_due())  # type: ignore[attr-defined]
