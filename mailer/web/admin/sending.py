"""Scheduling from the console: a form, then a confirmation stating list, size and time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mailer.accounts import audit
from mailer.db import session_scope
from mailer.errors import MailerError
from mailer.issuestore import operations, service
from mailer.web.admin.render import page
from mailer.web.admin.session import Editor
from mailer.web.api.paging import Id
from mailer.web.staff import actor, web_state
from subscribers.lists import get_list
from subscribers.models import utcnow

router = APIRouter()
Text = Annotated[str, Form(max_length=200)]


class BadTime(MailerError):
    pass


def parse_when(date: str, time: str, tz: str) -> datetime:
    try:
        zone = ZoneInfo(tz.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTime(f"time zone: {tz!r} is not a time zone such as Asia/Shanghai") from None
    try:
        local = datetime.fromisoformat(f"{date.strip()}T{time.strip()}")
    except ValueError:
        raise BadTime("date and time: give both, such as 2026-12-01 and 09:00") from None
    return local.replace(tzinfo=zone)


@router.post("/issues/{issue_id}/schedule")
def confirm(
    request: Request,
    issue_id: Id,
    user: Editor,
    list: Text,
    date: Text = "",
    time: Text = "",
    tz: Text = "UTC",
    now: Text = "",
) -> Response:
    with session_scope(web_state(request).db) as s:
        issue = service.get_issue(s, issue_id)
        ml = get_list(s, list)
        recipients = operations.recipient_count(s, list)
        when = utcnow() if now else parse_when(date, time, tz)
        if not now and when <= utcnow():
            raise BadTime(f"{when:%Y-%m-%d %H:%M %Z} has passed; choose a later time or send now")
        return page(
            request,
            "confirm.html",
            user,
            "Confirm the send",
            subject=issue.subject,
            issue_id=issue.id,
            version=issue.latest_version,
            list_slug=ml.slug,
            list_title=ml.title,
            recipients=recipients,
            now=bool(now),
            local=f"{when:%A %Y-%m-%d %H:%M} {tz}",
            utc=when.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M"),
            when_iso="now" if now else when.isoformat(),
        )


@router.post("/issues/{issue_id}/schedule/confirm")
def schedule(
    request: Request, issue_id: Id, user: Editor, list: Text, when: Text, version: Text = ""
) -> Response:
    web = web_state(request)
    try:
        at = utcnow() if when == "now" else datetime.fromisoformat(when)
    except ValueError:
        raise BadTime("the confirmation form was changed; start again") from None
    if at.tzinfo is None:
        raise BadTime("the confirmation form was changed; start again")
    with session_scope(web.db) as s:
        row = service.get_version(
            s, issue_id, int(version) if version.isdigit() and len(version) < 10 else None
        )
        cid = operations.schedule(s, web.settings, service.issue_set(row), list, at)
        audit.record(
            s, actor(user, request), "campaign.schedule", cid, list=list, at=at, issue=issue_id
        )
    operations.schedule_job(web.db, web.settings, cid, at)
    return RedirectResponse(f"/admin/campaigns/{cid}", status_code=303)
