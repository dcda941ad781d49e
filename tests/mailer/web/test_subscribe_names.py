"""The web form refuses names with terminal control characters, like the CLI and import."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from mailer.db import session_scope
from subscribers.models import Subscriber


@pytest.mark.parametrize("name", ["Eve\x1b[2J", "Bell\x07", "C1\x9b31m", "Tab\tName"])
def test_subscribe_with_a_control_character_in_the_name_is_422(
    client: TestClient, engine: Engine, name: str
) -> None:
    r = client.post("/lists/lmec-news/subscribe", data={"email": "eve@example.org", "name": name})
    assert r.status_code == 422
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 0
