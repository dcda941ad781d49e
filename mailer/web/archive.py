"""The archive of sent issues (public lists), and the health check."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select, text

from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.campaigns.service import campaign_issues
from mailer.compose import compose
from mailer.db import session_scope
from mailer.settings import Settings
from mailer.web.pages import language, message, page, state
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


@router.get("/archive", response_class=HTMLResponse, include_in_schema=False)
def archive(request: Request) -> HTMLResponse:
    issues = [
        {
            "url": f"/archive/{c.slug}",
            "subject": c.subject,
            "list_title": ml.title,
            "date": f"{c.started_at:%Y-%m-%d}" if c.started_at else "",
        }
        for c, ml in _sent(request)
    ]
    return page("archive", language(request), "archive_title", issues=issues)


@lru_cache(maxsize=32)
def _render(
    settings: Settings,
    campaign_id: int,
    sources_key: str,
    ml_title: str,
    ml_slug: str,
    lang: str | None,
    campaign: Campaign,
) -> str:
    ml = MailingList(id=campaign.list_id, slug=ml_slug, title=ml_title, description="")
    factory = compose(campaign_issues(campaign), settings, ml, str(campaign_id)).factory(lang)
    # As sent, with personal fields left out.
    return factory.variant.html.fill_html({"unsubscribe_url": "#", "preferences_url": "#"})


@router.get("/archive/{slug}", response_class=HTMLResponse, include_in_schema=False)
def archived_issue(slug: str, request: Request, lang: str | None = None) -> HTMLResponse:
    for campaign, ml in _sent(request):
        if campaign.slug == slug:
            settings = state(request).settings
            html = _render(settings, campaign.id, campaign.slug, ml.title, ml.slug, lang, campaign)
            return HTMLResponse(html)
    return message(language(request), "invalid_title", "invalid", status=404, error=True)


@router.get("/healthz", summary="Health: the database connection")
def healthz(request: Request) -> JSONResponse:
    try:
        with state(request).db.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database is "unhealthy"
        return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
