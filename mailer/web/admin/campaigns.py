"""Console pages for campaigns: list, watch live (htmx polling), pause/resume/cancel, report."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from mailer.accounts import audit
from mailer.accounts.models import User
from mailer.campaigns import service as campaigns
from mailer.campaigns.models import CampaignStatus
from mailer.campaigns.preflight import DoctorRefused, resume_checked
from mailer.campaigns.recipients import FILTERS, recipients, sent_per_minute
from mailer.campaigns.report import Report, list_campaigns, report
from mailer.db import session_scope
from mailer.doctor.findings import Finding
from mailer.web.admin.render import fragment, page
from mailer.web.admin.session import Editor, Viewer
from mailer.web.api.paging import After, Id
from mailer.web.staff import actor, web_state
from subscribers.csvio import safe_cell
from subscribers.models import utcnow

router = APIRouter()
FINAL = (CampaignStatus.FINISHED, CampaignStatus.CANCELLED)


def _live(request: Request, campaign_id: Id) -> dict[str, Any]:
    now = utcnow()
    with session_scope(web_state(request).db) as s:
        r = report(s, campaign_id, now)
        minutes = sent_per_minute(s, campaign_id, now)
    pending = sum(r.counts.get(k, 0) for k in ("queued", "deferred", "sending"))
    eta = pending / r.rate if r.rate > 0 else None
    peak = max([n for _, n in minutes] + [1])
    return {
        "r": r,
        "pending": pending,
        "eta": eta,
        "minutes": minutes,
        "peak": peak,
        "bars": rate_bars(minutes, peak),
        "final": r.status in FINAL,
        "per_minute": round(r.rate * 60),
    }


CHART_W, CHART_H = 600, 120  # the SVG's own units; CSS scales it to the page


def rate_bars(minutes: list[tuple[Any, int]], peak: int) -> list[dict[str, Any]]:
    """Columns of the send-rate chart, drawn server-side as SVG: no script, no chart library.

    Each minute is a column scaled to the busiest one; the table beside it
    carries the same figures for screen readers and copying.
    """
    if not minutes:
        return []
    width = CHART_W / len(minutes)
    bars = []
    for i, (minute, n) in enumerate(minutes):
        height = round(CHART_H * n / peak, 1) if peak else 0
        bars.append(
            {
                "x": round(i * width + 1, 1),
                "y": round(CHART_H - height, 1),
                "w": round(max(width - 2, 1), 1),
                "h": height,
                "label": f"{minute.strftime('%H:%M')}: {n}",
            }
        )
    return bars


@router.get("/campaigns")
def campaigns_page(request: Request, user: Viewer) -> Response:
    with session_scope(web_state(request).db) as s:
        rows = list_campaigns(s)
    return page(request, "campaigns.html", user, "Campaigns", campaigns=rows)


@router.get("/campaigns/{campaign_id}")
def watch(request: Request, campaign_id: Id, user: Viewer) -> Response:
    return _campaign_page(request, campaign_id, user, [])


def _campaign_page(
    request: Request, campaign_id: int, user: User, refused: list[Finding]
) -> Response:
    live = _live(request, campaign_id)
    return page(
        request,
        "campaign.html",
        user,
        f"Campaign {campaign_id}: {live['r'].subject}",
        code=409 if refused else 200,
        forced=live["r"].forced_errors,
        refused=refused,
        **live,
    )


Shown = Annotated[str | None, Query(pattern="^[a-z_]{1,20}$")]


@router.get("/campaigns/{campaign_id}/live")
def live(request: Request, campaign_id: Id, user: Viewer, shown: Shown = None) -> Response:
    """The part htmx refreshes; ``shown``: the status the page was drawn with.

    When the status changed (finished, paused elsewhere), htmx reloads the whole
    page, so its buttons (pause, resume, cancel) match the campaign again.
    """
    context = _live(request, campaign_id)
    response = fragment("live.html", **context)
    if shown is not None and shown != context["r"].status:
        response.headers["HX-Refresh"] = "true"
    return response


@router.post("/campaigns/{campaign_id}/{action}")
def act(request: Request, campaign_id: Id, action: str, user: Editor) -> Response:
    do = {"pause": campaigns.pause, "resume": campaigns.resume, "cancel": campaigns.cancel}.get(
        action
    )
    if do is None:
        return Response(status_code=404)
    web = web_state(request)
    try:
        with session_scope(web.db) as s:
            if action == "resume":  # through `mailer doctor`, as the scheduled start is
                resume_checked(s, web.settings, campaign_id, by=user.email)
            else:
                do(s, campaign_id)
            audit.record(s, actor(user, request), f"campaign.{action}", campaign_id)
    except DoctorRefused as exc:
        with session_scope(web.db) as s:  # its own transaction: the resume's rolled back
            audit.record(
                s,
                actor(user, request),
                "campaign.resume_refused",
                campaign_id,
                findings="; ".join(f.check for f in exc.findings),
            )
        return _campaign_page(request, campaign_id, user, exc.findings)
    done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]
    return RedirectResponse(f"/admin/campaigns/{campaign_id}?notice={done}", status_code=303)


Filter = Annotated[str, Query(pattern="^(" + "|".join(FILTERS) + ")$")]


@router.get("/campaigns/{campaign_id}/report")
def report_page(
    request: Request,
    campaign_id: Id,
    user: Viewer,
    status: Filter = "all",
    q: Annotated[str, Query(max_length=254)] = "",
    after: After = None,
) -> Response:
    with session_scope(web_state(request).db) as s:
        r: Report = report(s, campaign_id)
        lines = list(recipients(s, campaign_id, status, q, 201, after))
    more = lines[199].id if len(lines) > 200 else None
    return page(
        request,
        "report.html",
        user,
        f"Report: campaign {campaign_id}",
        r=r,
        lines=lines[:200],
        status=status,
        q=q,
        filters=FILTERS,
        more=more,
    )


@router.get("/campaigns/{campaign_id}/report.csv")
def report_csv(
    request: Request, campaign_id: Id, user: Viewer, status: Filter = "all", q: str = ""
) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "email",
            "status",
            "in_doubt",
            "attempts",
            "smtp_code",
            "smtp_reply",
            "sent_at",
            "bounce",
            "unsubscribed_at",
        ]
    )
    with session_scope(web_state(request).db) as s:
        report(s, campaign_id)  # 404 for an unknown campaign
        for x in recipients(s, campaign_id, status, q[:254], None):
            writer.writerow(
                [
                    safe_cell(x.email),
                    x.status,
                    x.in_doubt,
                    x.attempts,
                    x.smtp_code or "",
                    safe_cell(x.smtp_reply),
                    x.sent_at.isoformat() if x.sent_at else "",
                    x.bounce,
                    x.unsubscribed_at.isoformat() if x.unsubscribed_at else "",
                ]
            )
        audit.record(s, actor(user, request), "campaign.report_csv", campaign_id)
    return StreamingResponse(
        iter([out.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'},
    )
