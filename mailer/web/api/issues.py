"""/api/v1/issues: store an issue (Markdown text), preview it, check it, test-send it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from mailer.accounts import audit
from mailer.db import session_scope
from mailer.issuestore import operations, service
from mailer.issuestore.models import IssueVersion, StoredIssue
from mailer.web.api.auth import Editor, Viewer
from mailer.web.api.paging import Cursor, Id, Limit, Version, decode, page
from mailer.web.staff import actor, web_state

router = APIRouter(tags=["issues"])


class NewIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not ignored

    name: str = Field(
        max_length=200, description="A file name: .md (Markdown) or .html", examples=["issue-8.md"]
    )
    text: str = Field(max_length=1024 * 1024, description="The file: front matter, then the body")
    issue: int | None = Field(
        default=None,
        ge=1,
        le=2**62,
        description="Add this variant to issue N (default: the one with its slug)",
    )
    note: str = Field(default="", max_length=250)


class TestSend(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not ignored

    to: str = Field(max_length=320)
    language: str | None = Field(default=None, max_length=35)


def _json(issue: StoredIssue, version: IssueVersion) -> dict[str, Any]:
    return {
        "id": issue.id,
        "slug": issue.slug,
        "subject": issue.subject,
        "version": version.version,
        "default_language": version.default_language,
        "languages": sorted(version.sources),
        "author": version.author,
        "updated_at": version.created_at.isoformat(),
        "files": version.sources,
    }


@router.get("/issues", summary="Stored issues, newest first")
def issues(request: Request, _user: Viewer, limit: Limit = 50, cursor: Cursor = None) -> Any:
    with session_scope(web_state(request).db) as s:
        rows = service.list_issues(s, limit + 1, decode(cursor))
        items = [
            {"id": i.id, "slug": i.slug, "subject": i.subject, "version": i.latest_version}
            for i in rows
        ]
    return page(items, [i.id for i in rows], limit)


@router.post("/issues", status_code=201, summary="Store an issue file as a new version")
def new_issue(request: Request, body: NewIssue, user: Editor) -> Any:
    with session_scope(web_state(request).db) as s:
        version = service.save_variant(s, body.name, body.text, user.email, body.issue, body.note)
        issue = service.get_issue(s, version.issue_id)
        audit.record(s, actor(user, request), "issue.save", issue.id, version=version.version)
        return _json(issue, version)


@router.get("/issues/{issue_id}", summary="An issue's latest (or given) version")
def one_issue(request: Request, issue_id: Id, _user: Viewer, version: Version = None) -> Any:
    with session_scope(web_state(request).db) as s:
        row = service.get_version(s, issue_id, version)
        return _json(service.get_issue(s, issue_id), row)


@router.get("/issues/{issue_id}/preview", summary="The rendered HTML and text parts")
def preview(
    request: Request,
    issue_id: Id,
    _user: Viewer,
    language: Annotated[str | None, Query(max_length=35)] = None,
) -> Any:
    web = web_state(request)
    with session_scope(web.db) as s:
        issues = service.issue_set(service.get_version(s, issue_id))
    p = operations.preview(issues, web.settings, None, language)
    return {"language": p.language, "subject": p.subject, "html": p.html, "text": p.text}


@router.post("/issues/{issue_id}/check", summary="`mailer issues check`: problems and sizes")
def check(request: Request, issue_id: Id, _user: Viewer) -> Any:
    web = web_state(request)
    with session_scope(web.db) as s:
        issues = service.issue_set(service.get_version(s, issue_id))
    return operations.check(issues, web.settings).as_dict()


@router.post("/issues/{issue_id}/test", summary='Send one "[TEST]" message to one address')
def test_send(request: Request, issue_id: Id, body: TestSend, user: Editor) -> Any:
    web = web_state(request)
    with session_scope(web.db) as s:
        issues = service.issue_set(service.get_version(s, issue_id))
    message = operations.test_send(issues, web.settings, body.to, web.outbox.send, body.language)
    with session_scope(web.db) as s:
        audit.record(s, actor(user, request), "issue.test_send", issue_id, to=message.envelope_to)
    return {"to": message.envelope_to, "message_id": message.message_id}
