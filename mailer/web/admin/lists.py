"""Console pages for lists and subscribers: create, search, history, add, import, export,
unsubscribe, suppress, erase (admins)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from mailer.accounts import audit
from mailer.campaigns.recipients import subscriber_deliveries
from mailer.db import session_scope
from mailer.web.admin.render import page
from mailer.web.admin.session import Admin, Editor, Viewer
from mailer.web.api.paging import After
from mailer.web.staff import actor, client_ip, list_csv, web_state
from subscribers import members
from subscribers.importer import import_csv
from subscribers.lists import create_list, summarize_list, summarize_lists
from subscribers.search import search

router = APIRouter()
Text = Annotated[str, Form(max_length=2000)]
MAX_IMPORT = 50 * 1024 * 1024


@router.get("/lists")
def lists(request: Request, user: Viewer) -> Response:
    with session_scope(web_state(request).db) as s:
        rows = summarize_lists(s)
    return page(request, "lists.html", user, "Lists", lists=rows)


@router.post("/lists")
def new_list(
    request: Request, user: Admin, name: Text, title: Text = "", double_opt_in: Text = ""
) -> Response:
    with session_scope(web_state(request).db) as s:
        ml = create_list(
            s, name.strip(), title=title.strip() or None, double_opt_in=bool(double_opt_in)
        )
        audit.record(s, actor(user, request), "list.create", ml.slug)
    return RedirectResponse(f"/admin/lists/{ml.slug}?notice=list-created", status_code=303)


@router.get("/lists/{slug}")
def one_list(request: Request, slug: str, user: Viewer) -> Response:
    with session_scope(web_state(request).db) as s:
        summary = summarize_list(s, slug)
        found = search(s, "", slug, None, 100)
    return page(request, "list.html", user, summary.title, ml=summary, found=found, report=None)


@router.post("/lists/{slug}/import")
async def import_file(request: Request, slug: str, user: Editor, file: UploadFile) -> Response:
    data = await file.read(MAX_IMPORT + 1)
    form = await request.form()
    confirmed = bool(form.get("confirmed"))
    with tempfile.TemporaryDirectory() as tmp:
        name = Path(file.filename or "").name  # ".." is a name too: it is the folder above
        path = Path(tmp) / (name if name not in ("", "..") else "upload.csv")
        path.write_bytes(data[:MAX_IMPORT])
        with session_scope(web_state(request).db) as s:
            result = import_csv(s, path, slug, confirmed=confirmed)
            audit.record(
                s,
                actor(user, request),
                "subscribers.import",
                slug,
                added=result.added,
                rejected=len(result.rejected),
            )
    with session_scope(web_state(request).db) as s:
        summary = summarize_list(s, slug)
        found = search(s, "", slug, None, 100)
    return page(request, "list.html", user, summary.title, ml=summary, found=found, report=result)


@router.get("/lists/{slug}/export.csv")
def export(request: Request, slug: str, user: Viewer) -> Response:
    return list_csv(request, slug, user)


@router.post("/subscribers")
def add(
    request: Request,
    user: Editor,
    email: Text,
    list: Text,
    name: Text = "",
    language: Text = "",
    confirmed: Text = "",
) -> Response:
    with session_scope(web_state(request).db) as s:
        result = members.add_subscriber(
            s,
            email,
            list,
            name=name,
            language=language,
            confirmed=bool(confirmed),
            source="console",
            ip=client_ip(request),
        )
        audit.record(s, actor(user, request), "subscriber.add", result.subscriber.email, list=list)
        email = result.subscriber.email
    return RedirectResponse(f"/admin/subscribers/{quote(email)}?notice=added", status_code=303)


@router.get("/subscribers")
def find(
    request: Request,
    user: Viewer,
    q: Annotated[str, Query(max_length=254)] = "",
    after: After = None,
) -> Response:
    with session_scope(web_state(request).db) as s:
        found = search(s, q, None, None, 101, after)
    more = found[99].id if len(found) > 100 else None
    return page(request, "subscribers.html", user, "Subscribers", found=found[:100], q=q, more=more)


@router.get("/subscribers/{email}")
def subscriber(request: Request, email: str, user: Viewer) -> Response:
    with session_scope(web_state(request).db) as s:
        info = members.describe(s, email)
        sub = members.find_subscriber(s, email)
        deliveries = subscriber_deliveries(s, sub.id) if sub is not None else []
        lists = summarize_lists(s)
    return page(
        request,
        "subscriber.html",
        user,
        info["email"],
        info=info,
        deliveries=deliveries,
        lists=lists,
    )


@router.post("/subscribers/{email}/unsubscribe")
def unsubscribe(request: Request, email: str, user: Editor, list: Text = "") -> Response:
    with session_scope(web_state(request).db) as s:
        members.unsubscribe(s, email, list or None)
        audit.record(s, actor(user, request), "subscriber.unsubscribe", email, list=list or "all")
    return RedirectResponse(
        f"/admin/subscribers/{quote(email)}?notice=unsubscribed", status_code=303
    )


@router.post("/subscribers/{email}/suppress")
def suppress(request: Request, email: str, user: Editor, note: Text = "") -> Response:
    with session_scope(web_state(request).db) as s:
        members.suppress(s, email, detail=note or f"suppressed by {user.email}")
        audit.record(s, actor(user, request), "subscriber.suppress", email)
    return RedirectResponse(f"/admin/subscribers/{quote(email)}?notice=suppressed", status_code=303)


@router.post("/subscribers/{email}/erase")
def erase(request: Request, email: str, user: Admin) -> Response:
    with session_scope(web_state(request).db) as s:
        found = members.erase(s, email)
        audit.record(s, actor(user, request), "subscriber.erase", "(erased)", found=found)
    return RedirectResponse("/admin/subscribers?notice=erased", status_code=303)


@router.get("/audit")
def audit_page(request: Request, user: Admin, before: After = None) -> Response:
    with session_scope(web_state(request).db) as s:
        rows = audit.entries(s, 100, before)
    more = rows[-1].id if len(rows) == 100 else None
    return page(request, "audit.html", user, "Audit log", entries=rows, more=more)
