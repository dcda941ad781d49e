"""The API client of these tests: an app with staff of each role and their tokens."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from mailer.db import session_scope
from mailer.message import OutgoingMessage
from mailer.web.app import create_app
from subscribers.lists import create_list
from tests.mailer.web.conftest import SETTINGS
from tests.mailer.web.staff import Staff, make_staff


@pytest.fixture
def api(engine: Engine) -> Iterator[tuple[TestClient, Staff, list[OutgoingMessage]]]:
    staff = make_staff(engine)
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=False)
    outbox: list[OutgoingMessage] = []
    with TestClient(create_app(SETTINGS, engine, send=outbox.append)) as c:
        yield c, staff, outbox
