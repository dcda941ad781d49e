"""A campaign's archive snapshot: rendered and sanitized once, when it starts.

The web archive serves these rows and never renders an issue per request, so
what it shows is what was sent, whatever happens later to the templates, the
issue files or the settings.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailer.campaigns.models import ArchivedIssue, Campaign
from mailer.content.issue import IssueSet, from_snapshot
from mailer.render.context import Audience
from mailer.render.web import web_versions
from subscribers.models import MailingList


def store_snapshot(session: Session, campaign: Campaign, issues: IssueSet | None = None) -> None:
    """Write the web version of every language variant not stored yet."""
    have = set(
        session.scalars(
            select(ArchivedIssue.language).where(ArchivedIssue.campaign_id == campaign.id)
        )
    )
    issues = issues or from_snapshot(campaign.sources, campaign.default_language)
    if have >= set(issues.variants):
        return
    ml = session.get(MailingList, campaign.list_id)
    audience = Audience(
        list_title=ml.title if ml else "", list_slug=ml.slug if ml else campaign.slug
    )
    for language, html in web_versions(issues, audience).items():
        if language not in have:
            session.add(
                ArchivedIssue(
                    campaign_id=campaign.id,
                    language=language,
                    issue_date=issues.variants[language].date,
                    html=html,
                )
            )
    session.flush()


def ensure_snapshot(session: Session, campaign: Campaign) -> None:
    """For a campaign started before snapshots existed: store it once, now.

    Two first readers at once both render; the unique key keeps one row.
    """
    try:
        with session.begin_nested():
            store_snapshot(session, campaign)
    except IntegrityError:
        pass


def archived_html(
    session: Session, campaign: Campaign, language: str | None
) -> tuple[str, str] | None:
    """(language, html) stored for ``language``: exact tag, primary language, default."""
    query = select(ArchivedIssue.language, ArchivedIssue.html).where(
        ArchivedIssue.campaign_id == campaign.id
    )
    rows: dict[str, str] = {lang: html for lang, html in session.execute(query)}
    if language:
        if language in rows:
            return language, rows[language]
        primary = language.split("-")[0].lower()
        for tag, html in rows.items():
            if tag.split("-")[0].lower() == primary:
                return tag, html
    default = campaign.default_language
    return (default, rows[default]) if default in rows else None


def issue_dates(session: Session, campaigns: list[Campaign]) -> dict[int, date]:
    """Each campaign's issue date (front matter of its default variant), where it has one."""
    rows = session.execute(
        select(ArchivedIssue.campaign_id, ArchivedIssue.language, ArchivedIssue.issue_date).where(
            ArchivedIssue.campaign_id.in_([c.id for c in campaigns]),
            ArchivedIssue.issue_date.is_not(None),
        )
    )
    default = {c.id: c.default_language for c in campaigns}
    return {cid: day for cid, lang, day in rows if day is not None and default[cid] == lang}
