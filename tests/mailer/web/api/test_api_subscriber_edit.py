"""PATCH /api/v1/subscribers/{id or address}, and `mailer subscribers edit` beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mailer.cli import cli
from tests.mailer.web.api.test_api import PROBLEM
from tests.mailer.web.staff import Staff, bearer

Api = tuple[TestClient, Staff, list[Any]]
LI = "/api/v1/subscribers/li@example.org"


def _add_li(c: TestClient, staff: Staff) -> dict[str, Any]:
    r = c.post(
        "/api/v1/subscribers",
        json={
            "email": "li@example.org",
            "list": "lmec-news",
            "name": "Li",
            "attributes": {"country": "CN", "org": "LMEC"},
        },
        headers=bearer(staff.editor),
    )
    assert r.status_code == 201, r.text
    return dict(r.json()["subscriber"])


def test_an_editor_changes_name_language_and_attributes(api: Api) -> None:
    c, staff, _ = api
    _add_li(c, staff)
    r = c.patch(
        LI,
        json={"name": "Li Wei", "language": "zh-CN", "attributes": {"country": "TW", "org": None}},
        headers=bearer(staff.editor),
    )
    assert r.status_code == 200, r.text
    sub = r.json()["subscriber"]
    assert (sub["name"], sub["language"], sub["attributes"]) == (
        "Li Wei",
        "zh-CN",
        {"country": "TW"},
    )
    # By id, with only one field: the others stay.
    r = c.patch(
        f"/api/v1/subscribers/{sub['id']}",
        json={"attributes": {"team": " events "}},
        headers={**bearer(staff.editor), "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    again = r.json()["subscriber"]
    assert again["name"] == "Li Wei" and again["language"] == "zh-CN"
    assert again["attributes"] == {"country": "TW", "team": "events"}
    r = c.patch(LI, json={"language": None, "name": ""}, headers=bearer(staff.editor))
    assert (r.json()["subscriber"]["language"], r.json()["subscriber"]["name"]) == (None, "")


def test_who_may_patch(api: Api) -> None:
    c, staff, _ = api
    before = _add_li(c, staff)
    assert c.patch(LI, json={"name": "X"}).status_code == 401
    r = c.patch(LI, json={"name": "X"}, headers=bearer(staff.viewer))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    after = c.get(LI, headers=bearer(staff.viewer)).json()["subscriber"]
    assert after["name"] == before["name"] == "Li"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Li\r\nBcc: x@example.org"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"language": "not a language"}, "language"),
        ({"name": "Fine", "language": "zz-toolongsubtag"}, "language"),  # nothing half-done
        ({"attributes": {"bad key!": "x"}}, "bad key!"),
        ({"attributes": {"country": "A\x1b[2J"}}, "country"),
        ({"attributes": {"country": 3}}, "attributes.country"),
        ({"nickname": "Li"}, "nickname"),
        ({"name": ["Li"]}, "name"),
    ],
)
def test_a_bad_field_is_a_422_naming_it_and_changes_nothing(
    api: Api,
    body: dict[str, Any],
    field: str,
) -> None:
    c, staff, _ = api
    before = _add_li(c, staff)
    r = c.patch(LI, json=body, headers=bearer(staff.editor))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["status"] == 422 and field in problem["detail"], problem
    after = c.get(LI, headers=bearer(staff.editor)).json()["subscriber"]
    assert after == before


def test_unknown_subscriber_is_404(api: Api) -> None:
    c, staff, _ = api
    for ref in ("nobody@example.org", "999999", "99999999999999999999999"):
        r = c.patch(f"/api/v1/subscribers/{ref}", json={"name": "X"}, headers=bearer(staff.editor))
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (ref, r.text)


def test_patch_is_in_the_openapi_document(api: Api) -> None:
    c, _, _ = api
    doc = c.get("/api/v1/openapi.json").json()
    operation = doc["paths"]["/subscribers/{ref}"]["patch"]
    schema = doc["components"]["schemas"]["SubscriberChanges"]
    assert set(schema["properties"]) == {"name", "language", "attributes"}
    assert schema["additionalProperties"] is False and "requestBody" in operation


def test_the_cli_edits_with_the_same_rules(workdir: Path, db_url: str) -> None:
    runner = CliRunner()
    env = {"MAILER_DATABASE_URL": db_url}

    def run(*args: str) -> Any:
        return runner.invoke(cli, list(args), env=env)

    assert run("lists", "create", "news", "--single-opt-in").exit_code == 0
    assert (
        run("subscribers", "add", "li@example.org", "--list", "news", "--attr", "org=x").exit_code
        == 0
    )
    ok = run(
        "subscribers",
        "edit",
        "li@example.org",
        "--name",
        "Li Wei",
        "--unset",
        "org",
        "--attr",
        "country=CN",
        "--json",
    )
    assert ok.exit_code == 0, ok.output
    assert '"country": "CN"' in ok.output and '"org"' not in ok.output
    bad = run("subscribers", "edit", "li@example.org", "--name", "Li", "--language", "??")
    assert bad.exit_code != 0 and "language" in bad.output
    shown = run("subscribers", "show", "li@example.org", "--json")
    assert '"name": "Li Wei"' in shown.output
    assert run("subscribers", "edit", "nobody@example.org", "--name", "X").exit_code != 0
    nothing = run("subscribers", "edit", "li@example.org")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output
