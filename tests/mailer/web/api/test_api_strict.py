"""Request bodies are strict, and errors speak the API's language, not the CLI's."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.mailer.web.api.test_api import PROBLEM
from tests.mailer.web.staff import Staff, bearer

Api = tuple[TestClient, Staff, list[Any]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/lists", {"name": "events", "title": "Events", "bogus": 1}),
        ("/api/v1/subscribers", {"email": "a@example.org", "list": "lmec-news", "colour": "x"}),
        ("/api/v1/campaigns", {"issue": 1, "list": "lmec-news", "sheduled_at": "soon"}),
    ],
)
def test_an_unknown_field_is_refused_and_nothing_is_made(api: Api, path: str, body: dict) -> None:
    c, staff, _sent = api
    r = c.post(path, json=body, headers=bearer(staff.admin))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    unknown = next(k for k in body if k in ("bogus", "colour", "sheduled_at"))
    assert unknown in r.text
    if path == "/api/v1/lists":
        names = [x["name"] for x in c.get(path, headers=bearer(staff.admin)).json()["items"]]
        assert "events" not in names


def test_an_unknown_list_is_named_without_a_shell_command(api: Api) -> None:
    c, staff, _sent = api
    r = c.get("/api/v1/lists/nope", headers=bearer(staff.viewer))
    assert r.status_code == 404
    assert "no list named 'nope'" in r.text and "mailer lists ls" not in r.text
