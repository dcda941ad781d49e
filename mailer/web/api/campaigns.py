"""/api/v1/campaigns: create and schedule (idempotent), pause, resume, cancel, status, report.

A POST with an ``Idempotency-Key`` header is answered once: the key, a hash
of the body and the answer are stored in the transaction that creates the
campaign, so a retry (or a concurrent duplicate, which loses on the unique
key) gets the first answer and no second campaign.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailer.accounts import audit
from mailer.accounts.models import IdempotencyKey, User
from mailer.campaigns import service as campaigns
from mailer.campaigns.models import Campaign
from mailer.campaigns.preflight import DoctorRefused, resume_checked
from mailer.campaigns.recipients import FILTERS, recipients
from mailer.campaigns.report import report
from mailer.db import session_scope
from mailer.issuestore import operations, service
from mailer.web.api.auth import Editor, Viewer
from mailer.web.api.paging import Cursor, Id, Limit, decode, page
from mailer.web.api.problems import ApiProblem
from mailer.web.staff import actor, web_state
from subscribers.models import utcnow

router = APIRouter(tags=["campaigns"])


class NewCampaign(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not ignored

    issue: int = Field(ge=1, le=2**62, description="A stored issue's id")
    list: str = Field(max_length=100)
    at: datetime | None = Field(
        default=None, description="When: '2026-12-01T09:00' (in tz) or with an offset"
    )
    tz: str = Field(default="UTC", max_length=64, examples=["Asia/Shanghai"])
    now: bool = Field(default=False, description="Start now instead of at a time")
    force: bool = Field(default=False, description="Send even if this issue went to this list")


def when_of(at: datetime | None, tz: str, now: bool) -> datetime:
    if now == (at is not None):
        raise ApiProblem(422, "give exactly one of at (a time) or now: true")
    if at is None:
        return utcnow()
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiProblem(422, f"tz: {tz!r} is not a time zone such as Asia/Shanghai") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    try:
        return at.astimezone(ZoneInfo("UTC"))
    except (OverflowError, ValueError):
        raise ApiProblem(422, "at: out of range") from None


def _status(s: Any, campaign_id: int) -> dict[str, Any]:
    return report(s, campaign_id).as_dict()


def _stored(s: Session, user: User, key: str) -> IdempotencyKey | None:
    return s.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)
    )


def _replay(row: IdempotencyKey, digest: str) -> JSONResponse:
    if row.request_hash != digest:
        raise ApiProblem(422, "Idempotency-Key: already used with a different request body")
    return JSONResponse(
        row.response, status_code=row.status_code, headers={"Idempotent-Replayed": "true"}
    )


@router.post("/campaigns", status_code=201, summary="Create a campaign and schedule it")
def create(
    request: Request,
    body: NewCampaign,
    user: Editor,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    web = web_state(request)
    digest = hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    when = when_of(body.at, body.tz, body.now)
    if idempotency_key:
        with session_scope(web.db) as s:
            earlier = _stored(s, user, idempotency_key)
            if earlier is not None:
                return _replay(earlier, digest)
    try:
        with session_scope(web.db) as s:
            issues = service.issue_set(service.get_version(s, body.issue))
            cid = operations.schedule(s, web.settings, issues, body.list, when, body.force)
            answer = {"campaign": cid, "status": "scheduled", "scheduled_at": when.isoformat()}
            if idempotency_key:
                s.add(
                    IdempotencyKey(
                        user_id=user.id,
                        key=idempotency_key,
                        request_hash=digest,
                        status_code=201,
                        response=answer,
                    )
                )
            audit.record(s, actor(user, request), "campaign.schedule", cid, list=body.list, at=when)
    except IntegrityError:
        # A concurrent request with the same key won; ours was rolled back whole.
        with session_scope(web.db) as s:
            earlier = _stored(s, user, idempotency_key or "")
            if earlier is None:
                raise
            return _replay(earlier, digest)
    operations.schedule_job(web.db, web.settings, cid, when)
    return JSONResponse(answer, status_code=201)


@router.get("/campaigns", summary="Campaigns, newest first, with their counts")
def campaigns_list(
    request: Request, _user: Viewer, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    after = decode(cursor)
    with session_scope(web_state(request).db) as s:
        query = select(Campaign.id).order_by(Campaign.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(Campaign.id < after)
        ids = list(s.scalars(query))
        return page([_status(s, i) for i in ids], ids, limit)


@router.get("/campaigns/{campaign_id}", summary="Status and counts")
def status(request: Request, campaign_id: Id, _user: Viewer) -> Any:
    with session_scope(web_state(request).db) as s:
        return _status(s, campaign_id)


@router.get("/campaigns/{campaign_id}/report", summary="Every recipient's outcome")
def campaign_report(
    request: Request,
    campaign_id: Id,
    _user: Viewer,
    status: Annotated[str, Query(pattern="^(" + "|".join(FILTERS) + ")$")] = "all",
    q: Annotated[str, Query(max_length=254)] = "",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    with session_scope(web_state(request).db) as s:
        summary = _status(s, campaign_id)
        lines = list(recipients(s, campaign_id, status, q, limit + 1, decode(cursor)))
    return {
        "campaign": summary,
        "recipients": page([x.as_dict() for x in lines], [x.id for x in lines], limit),
    }


def _act(request: Request, user: User, campaign_id: Id, action: str) -> Any:
    do = {"pause": campaigns.pause, "resume": campaigns.resume, "cancel": campaigns.cancel}[action]
    web = web_state(request)
    with session_scope(web.db) as s:
        if action == "resume":  # through `mailer doctor`, as the scheduled start is
            try:
                resume_checked(s, web.settings, campaign_id, by=user.email)
            except DoctorRefused as exc:
                _audit_refusal(request, user, campaign_id, exc)
                raise ApiProblem(
                    409, str(exc), findings=[f.as_dict() for f in exc.findings]
                ) from None
        else:
            do(s, campaign_id)
        audit.record(s, actor(user, request), f"campaign.{action}", campaign_id)
        return _status(s, campaign_id)


def _audit_refusal(request: Request, user: User, campaign_id: int, exc: DoctorRefused) -> None:
    """Written in a transaction of its own: the resume's own is rolled back."""
    with session_scope(web_state(request).db) as s:
        audit.record(
            s,
            actor(user, request),
            "campaign.resume_refused",
            campaign_id,
            findings="; ".join(f.check for f in exc.findings),
        )


@router.post("/campaigns/{campaign_id}/pause", summary="Pause a scheduled or sending campaign")
def pause(request: Request, campaign_id: Id, user: Editor) -> Any:
    return _act(request, user, campaign_id, "pause")


@router.post(
    "/campaigns/{campaign_id}/resume",
    summary="Resume a paused or missed campaign",
    description="Runs `mailer doctor` first, as a campaign's start does: on an error finding "
    "the answer is a 409 problem whose `findings` list each error (check, level, message, "
    "fix) and nothing changes.",
)
def resume(request: Request, campaign_id: Id, user: Editor) -> Any:
    return _act(request, user, campaign_id, "resume")


@router.post("/campaigns/{campaign_id}/cancel", summary="Cancel; queued recipients are skipped")
def cancel(request: Request, campaign_id: Id, user: Editor) -> Any:
    return _act(request, user, campaign_id, "cancel")
