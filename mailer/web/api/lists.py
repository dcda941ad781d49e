"""/api/v1/lists and /api/v1/subscribers: the subscriber service over HTTP."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from mailer.accounts import audit
from mailer.db import session_scope
from mailer.web.api.auth import Admin, Editor, Viewer
from mailer.web.api.paging import Cursor, Limit, decode, page
from mailer.web.api.problems import ApiProblem
from mailer.web.staff import actor, list_csv, web_state
from subscribers import members
from subscribers.edit import edit_subscriber, subscriber_by_ref
from subscribers.importer import import_csv
from subscribers.lists import create_list, summarize_list
from subscribers.models import MailingList
from subscribers.search import search

router = APIRouter(tags=["lists and subscribers"])
MAX_IMPORT = 50 * 1024 * 1024


class NewList(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not ignored

    name: str = Field(max_length=100, description="The slug, e.g. events")
    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    double_opt_in: bool = True
    public: bool = True


class NewSubscriber(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not ignored

    email: str = Field(max_length=320)
    list: str = Field(max_length=100)
    name: str = Field(default="", max_length=200)
    language: str = Field(default="", max_length=35)
    attributes: dict[str, Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=50
    )
    confirmed: bool = False


class SubscriberChanges(BaseModel):
    """Only the fields given change (JSON merge patch): null clears a field,
    and an attribute set to null is removed."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=35, description="e.g. en or zh-CN")
    attributes: dict[str, Annotated[str | None, Field(max_length=1000)]] | None = Field(
        default=None, max_length=50
    )


class Unsubscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not ignored

    list: str | None = Field(default=None, max_length=100, description="Omit: every list")


class Suppress(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not ignored

    note: str = Field(default="", max_length=500)


def _list_json(s: Any, slug: str) -> dict[str, Any]:
    d = summarize_list(s, slug).as_dict()
    d.pop("slug")  # the API has only "name"
    return d


@router.get("/lists", summary="The lists, with their name (slug), title and counts")
def lists(request: Request, _user: Viewer, limit: Limit = 50, cursor: Cursor = None) -> Any:
    after = decode(cursor) or 0
    with session_scope(web_state(request).db) as s:
        rows = s.execute(
            select(MailingList.id, MailingList.slug)
            .where(MailingList.id > after)
            .order_by(MailingList.id)
            .limit(limit + 1)
        ).all()
        return page([_list_json(s, slug) for _, slug in rows], [i for i, _ in rows], limit)


@router.post("/lists", status_code=201, summary="Create a list (admin)")
def new_list(request: Request, body: NewList, user: Admin) -> Any:
    with session_scope(web_state(request).db) as s:
        ml = create_list(
            s,
            body.name,
            title=body.title or None,
            description=body.description,
            double_opt_in=body.double_opt_in,
            public=body.public,
        )
        audit.record(s, actor(user, request), "list.create", ml.slug)
        return _list_json(s, ml.slug)


@router.get("/lists/{name}", summary="One list")
def one_list(request: Request, name: str, _user: Viewer) -> Any:
    with session_scope(web_state(request).db) as s:
        return _list_json(s, name)


@router.post("/lists/{name}/import", summary="Import a CSV (text/csv body); per-row report")
async def import_subscribers(
    request: Request, name: str, user: Editor, confirmed: bool = False
) -> Any:
    if not request.headers.get("content-type", "").startswith("text/csv"):
        raise ApiProblem(415, "send the CSV file as the body, Content-Type: text/csv")
    data = await request.body()
    if len(data) > MAX_IMPORT:
        raise ApiProblem(413, f"the file is larger than {MAX_IMPORT // 1024 // 1024} MB")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.csv"
        path.write_bytes(data)
        with session_scope(web_state(request).db) as s:
            report = import_csv(s, path, name, confirmed=confirmed)
            audit.record(s, actor(user, request), "subscribers.import", name, added=report.added)
    return report.as_dict()


@router.get("/lists/{name}/export", summary="The list's subscribers as CSV")
def export(request: Request, name: str, user: Viewer) -> Response:
    return list_csv(request, name, user)


@router.get("/subscribers", summary="Search subscribers")
def find(
    request: Request,
    _user: Viewer,
    q: Annotated[str, Query(max_length=254)] = "",
    list: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    with session_scope(web_state(request).db) as s:
        found = search(s, q, list, status, limit + 1, decode(cursor))
    items = [{"id": f.id, "email": f.email, "name": f.name, "language": f.language} for f in found]
    return page(items, [f.id for f in found], limit)


@router.post("/subscribers", status_code=201, summary="Add a subscriber to a list")
def add(request: Request, body: NewSubscriber, user: Editor) -> Any:
    with session_scope(web_state(request).db) as s:
        result = members.add_subscriber(
            s,
            body.email,
            body.list,
            name=body.name,
            language=body.language,
            attributes=body.attributes,
            confirmed=body.confirmed,
            source="api",
            ip=request.client.host if request.client else None,
        )
        audit.record(
            s, actor(user, request), "subscriber.add", result.subscriber.email, list=body.list
        )
        return members.describe(s, result.subscriber.email)


@router.get("/subscribers/{email}", summary="Everything stored about one address")
def show(request: Request, email: str, _user: Viewer) -> Any:
    with session_scope(web_state(request).db) as s:
        return members.describe(s, email)


@router.patch(
    "/subscribers/{ref}",
    summary="Change a subscriber's name, language or attributes (by id or address)",
)
def edit(request: Request, ref: str, body: SubscriberChanges, user: Editor) -> Any:
    given = body.model_fields_set
    with session_scope(web_state(request).db) as s:
        sub = edit_subscriber(
            s,
            subscriber_by_ref(s, ref),
            name=(body.name or "") if "name" in given else None,
            language=(body.language or "") if "language" in given else None,
            attributes=body.attributes,
        )
        # Which fields changed, not their values: the log outlives an erasure.
        audit.record(s, actor(user, request), "subscriber.edit", sub.email, fields=sorted(given))
        return members.describe(s, sub.email)


@router.post("/subscribers/{email}/unsubscribe", summary="Unsubscribe (one list, or all)")
def unsubscribe(request: Request, email: str, body: Unsubscribe, user: Editor) -> Any:
    with session_scope(web_state(request).db) as s:
        changed = members.unsubscribe(s, email, body.list)
        audit.record(s, actor(user, request), "subscriber.unsubscribe", email, list=body.list)
    return {"unsubscribed_from": changed}


@router.post("/subscribers/{email}/suppress", summary="Never mail this address")
def suppress(request: Request, email: str, body: Suppress, user: Editor) -> Any:
    with session_scope(web_state(request).db) as s:
        _, created = members.suppress(s, email, detail=body.note)
        audit.record(s, actor(user, request), "subscriber.suppress", email)
    return {"suppressed": True, "already": not created}


@router.delete("/subscribers/{email}", status_code=204, summary="Erase (GDPR art. 17; admin)")
def erase(request: Request, email: str, user: Admin) -> Response:
    with session_scope(web_state(request).db) as s:
        found = members.erase(s, email)
        # The address itself is not written to the log: it was erased.
        audit.record(s, actor(user, request), "subscriber.erase", "(erased)", found=found)
    return Response(status_code=204)
