"""The REST API with real tokens: roles, problem details, paging, idempotent scheduling."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from mailer.campaigns.models import Campaign
from mailer.db import session_scope
from tests.mailer.helpers import EXAMPLE
from tests.mailer.web.staff import Staff, bearer

PROBLEM = "application/problem+json"


def test_no_token_401_bad_token_401_wrong_role_403(api: tuple[TestClient, Staff, list]) -> None:
    c, staff, _ = api
    r = c.get("/api/v1/lists")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["status"] == 401 and r.json()["title"] == "Authentication required"
    assert c.get("/api/v1/lists", headers=bearer(staff.viewer + "x")).status_code == 401
    r = c.post("/api/v1/lists", json={"name": "events"}, headers=bearer(staff.viewer))
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    r = c.post("/api/v1/lists", json={"name": "events"}, headers=bearer(staff.editor))
    assert r.status_code == 403


def test_lists_create_and_page(api: tuple[TestClient, Staff, list]) -> None:
    c, staff, _ = api
    r = c.post(
        "/api/v1/lists", json={"name": "events", "title": "Events"}, headers=bearer(staff.admin)
    )
    assert r.status_code == 201 and r.json()["name"] == "events" and r.json()["title"] == "Events"
    again = c.post("/api/v1/lists", json={"name": "events"}, headers=bearer(staff.admin))
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    bad = c.post("/api/v1/lists", json={"name": "Not A Slug"}, headers=bearer(staff.admin))
    assert bad.status_code == 422 and "name" in bad.json()["detail"]
    for i in range(3):
        c.post("/api/v1/lists", json={"name": f"l{i}"}, headers=bearer(staff.admin))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = c.get("/api/v1/lists", params=params, headers=bearer(staff.viewer)).json()
        seen += [x["name"] for x in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["lmec-news", "events", "l0", "l1", "l2"]
    assert c.get("/api/v1/lists?cursor=zzz", headers=bearer(staff.viewer)).status_code == 400


def test_subscribers_crud_and_import(api: tuple[TestClient, Staff, list]) -> None:
    c, staff, _ = api
    h = bearer(staff.editor)
    r = c.post(
        "/api/v1/subscribers",
        json={"email": "Li@Example.org", "list": "lmec-news", "name": "Li"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["subscriber"]["subscriptions"][0]["status"] == "confirmed"
    bad = c.post(
        "/api/v1/subscribers", json={"email": "not an address", "list": "lmec-news"}, headers=h
    )
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    csv = "email,name\nwei@example.org,Wei\nbroken,X\n"
    r = c.post(
        "/api/v1/lists/lmec-news/import", content=csv, headers={**h, "Content-Type": "text/csv"}
    )
    assert r.status_code == 200 and r.json()["added"] == 1
    assert r.json()["rejected"][0]["line"] == 3
    found = c.get("/api/v1/subscribers", params={"q": "example.org"}, headers=h).json()
    assert [x["email"] for x in found["items"]] == ["Li@Example.org", "wei@example.org"]
    # A bad filter names the query parameter, not the CLI's option.
    bogus = c.get("/api/v1/subscribers", params={"status": "bogus"}, headers=h)
    assert bogus.status_code == 422 and bogus.headers["content-type"] == PROBLEM
    assert bogus.json()["field"] == "status", bogus.text
    assert "--status" not in bogus.json()["detail"]
    assert c.post(
        "/api/v1/subscribers/li@example.org/unsubscribe", json={"list": "lmec-news"}, headers=h
    ).json() == {"unsubscribed_from": ["lmec-news"]}
    assert c.delete("/api/v1/subscribers/li@example.org", headers=h).status_code == 403
    assert (
        c.delete("/api/v1/subscribers/li@example.org", headers=bearer(staff.admin)).status_code
        == 204
    )
    shown = c.get("/api/v1/subscribers/li@example.org", headers=h).json()
    assert shown["subscriber"] is None and shown["suppression"]["reason"] == "erased"
    export = c.get("/api/v1/lists/lmec-news/export", headers=h)
    assert export.text.splitlines()[1].startswith("wei@example.org")


def _store_issue(c: TestClient, token: str) -> int:
    r = c.post(
        "/api/v1/issues",
        json={"name": EXAMPLE.name, "text": EXAMPLE.read_text(encoding="utf-8")},
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_issues_preview_check_and_test_send(api: tuple[TestClient, Staff, list]) -> None:
    c, staff, outbox = api
    issue = _store_issue(c, staff.editor)
    h = bearer(staff.viewer)
    preview = c.get(f"/api/v1/issues/{issue}/preview", headers=h).json()
    assert "Viewpoints" in preview["html"] and "CHEN ZIHUA" in preview["text"]
    assert c.post(f"/api/v1/issues/{issue}/check", headers=h).json()["ok"] is True
    assert (
        c.post(f"/api/v1/issues/{issue}/test", json={"to": "me@example.org"}, headers=h).status_code
        == 403
    )
    sent = c.post(
        f"/api/v1/issues/{issue}/test", json={"to": "me@example.org"}, headers=bearer(staff.editor)
    )
    assert sent.status_code == 200 and [m.envelope_to for m in outbox] == ["me@example.org"]
    assert b"[TEST]" in outbox[0].data
    broken = c.post(
        "/api/v1/issues",
        json={"name": "x.md", "text": "---\nsubjet: x\n---\n"},
        headers=bearer(staff.editor),
    )
    assert broken.status_code == 422 and "x.md:2" in broken.json()["detail"]
    assert c.get("/api/v1/issues/999", headers=h).status_code == 404


def test_same_idempotency_key_twice_makes_one_campaign(
    api: tuple[TestClient, Staff, list], engine: Engine
) -> None:
    c, staff, _ = api
    issue = _store_issue(c, staff.editor)
    body = {"issue": issue, "list": "lmec-news", "at": "2030-12-03T09:00", "tz": "Asia/Shanghai"}
    h = {**bearer(staff.editor), "Idempotency-Key": "abc-123"}
    first = c.post("/api/v1/campaigns", json=body, headers=h)
    second = c.post("/api/v1/campaigns", json=body, headers=h)
    assert first.status_code == second.status_code == 201, first.text
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    assert first.json()["scheduled_at"] == "2030-12-03T01:00:00+00:00"
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 1
    other = c.post("/api/v1/campaigns", json={**body, "tz": "UTC"}, headers=h)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    # Without a key the duplicate is refused by the campaign service itself.
    dup = c.post("/api/v1/campaigns", json=body, headers=bearer(staff.editor))
    assert dup.status_code == 409
    cid = first.json()["campaign"]
    assert c.post(f"/api/v1/campaigns/{cid}/pause", headers=bearer(staff.viewer)).status_code == 403
    assert (
        c.post(f"/api/v1/campaigns/{cid}/pause", headers=bearer(staff.editor)).json()["status"]
        == "paused"
    )
    assert (
        c.post(f"/api/v1/campaigns/{cid}/resume", headers=bearer(staff.editor)).json()["status"]
        == "scheduled"
    )
    assert (
        c.post(f"/api/v1/campaigns/{cid}/cancel", headers=bearer(staff.editor)).json()["status"]
        == "cancelled"
    )
    assert (
        c.post(f"/api/v1/campaigns/{cid}/cancel", headers=bearer(staff.editor)).status_code == 409
    )
    report = c.get(f"/api/v1/campaigns/{cid}/report", headers=bearer(staff.viewer)).json()
    assert report["campaign"]["status"] == "cancelled" and report["recipients"]["items"] == []
    assert (
        c.get("/api/v1/campaigns", headers=bearer(staff.viewer)).json()["items"][0]["campaign"]
        == cid
    )


def test_openapi_document(api: tuple[TestClient, Staff, list]) -> None:
    c, _, _ = api
    doc = c.get("/api/v1/openapi.json").json()
    assert {"/lists", "/campaigns", "/issues/{issue_id}/preview"} <= set(doc["paths"])
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
