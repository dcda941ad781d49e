"""The archive of sent issues (public lists), and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select, text

from mailer.campaigns.archive import archived_html, ensure_snapshot, issue_dates
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.db import session_scope
from mailer.web.pages import environment, language, message, page, state
from subscribers.models import MailingList

router = APIRouter()
SENT = (CampaignStatus.SENDING, CampaignStatus.FINISHED)


def _sent(request: Request) -> list[tuple[Campaign, MailingList]]:
    """The latest sent campaign of each issue, on public lists, newest first."""
    with session_scope(state(request).db) as s:
        rows = s.execute(
            select(Campaign, MailingList)
            .join(MailingList, MailingList.id == Campaign.list_id)
            .where(Campaign.status.in_(SENT), MailingList.public.is_(True))
            .order_by(Campaign.started_at.desc())
        ).all()
        s.expunge_all()
    seen: set[str] = set()
    out = []
    for campaign, ml in rows:
        if campaign.slug not in seen:
            seen.add(campaign.slug)
            out.append((campaign, ml))
    return out


@router.api_route(
    "/archive", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
)
def archive(request: Request) -> HTMLResponse:
    sent = _sent(request)
    with session_scope(state(request).db) as s:
        dates = issue_dates(s, [c for c, _ in sent])
    issues = []
    for c, ml in sent:
        # The issue's own date; the day it went out when its front matter has none.
        day = dates.get(c.id) or (c.started_at.date() if c.started_at else None)
        issues.append(
            {
                "url": f"/archive/{c.slug}",
                "subject": c.subject,
                "list_title": ml.title,
                "date": day.isoformat() if day else "",
            }
        )
    return page("archive", language(request), "archive_title", issues=issues)


@router.api_route(
    "/archive/{slug}", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
)
def archived_issue(slug: str, request: Request, lang: str | None = None) -> HTMLResponse:
    for campaign, _ml in _sent(request):
        if campaign.slug == slug:
            with session_scope(state(request).db) as s:
                found = archived_html(s, campaign, lang)
                if found is None:  # started before snapshots were kept
                    ensure_snapshot(s, campaign)
                    found = archived_html(s, campaign, lang)
            if found is None:
                break
            variant, html = found
            page = environment().get_template("web/issue.html")
            return HTMLResponse(page.render(lang=variant, title=campaign.subject, html=html))
    return message(language(request), "invalid_title", "invalid", status=404, error=True)


@router.get("/healthz", summary="Health: the database connection")
def healthz(request: Request) -> JSONResponse:
    try:
        with state(request).db.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database is "unhealthy"
        return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
