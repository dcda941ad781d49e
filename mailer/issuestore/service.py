"""Storing issues with versions: every save is a new version of every variant.

Issues come in as files' text (an upload, the console's editor, the API);
each is parsed by the same loader as `mailer send FILE`, so a stored issue
that does not load is never stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.campaigns.models import Campaign
from mailer.content.issue import SUFFIXES, IssueSet, from_snapshot, parse_issue
from mailer.errors import ContentError
from mailer.issuestore.models import IssueVersion, StoredIssue
from subscribers.errors import NotFound
from subscribers.models import utcnow

MAX_SIZE = 1024 * 1024  # one variant's text; an issue is a page of Markdown, not a book


def _check_name(name: str) -> str:
    name = Path(name.replace("\\", "/")).name.strip()
    if not name or not name.lower().endswith(SUFFIXES):
        raise ContentError(
            name or "(no name)", f"the file name must end with {', '.join(SUFFIXES)}"
        )
    return name


def load_sources(sources: dict[str, dict[str, str]], default_language: str) -> IssueSet:
    """Parse every variant; raises ContentError naming the file and line."""
    return from_snapshot(sources, default_language)


def variant_sources(name: str, text: str) -> tuple[str, dict[str, str], str]:
    """(language, {"name", "text"}, slug) of one file, checked by the issue loader."""
    name = _check_name(name)
    if len(text.encode("utf-8")) > MAX_SIZE:
        raise ContentError(name, f"larger than {MAX_SIZE // 1024} KB")
    text = text.replace("\r\n", "\n")
    issue = parse_issue(Path(name), text)
    return issue.language, {"name": name, "text": text}, issue.slug


def get_issue(session: Session, issue_id: int) -> StoredIssue:
    issue = session.get(StoredIssue, issue_id)
    if issue is None:
        raise NotFound(f"no issue {issue_id} (see the console's issue list)")
    return issue


def get_version(session: Session, issue_id: int, version: int | None = None) -> IssueVersion:
    issue = get_issue(session, issue_id)
    row = session.scalar(
        select(IssueVersion).where(
            IssueVersion.issue_id == issue.id,
            IssueVersion.version == (version or issue.latest_version),
        )
    )
    if row is None:
        raise NotFound(f"issue {issue_id} has no version {version}")
    return row


def issue_set(version: IssueVersion) -> IssueSet:
    return load_sources(version.sources, version.default_language)


def save_variant(
    session: Session, name: str, text: str, author: str, issue_id: int | None = None, note: str = ""
) -> IssueVersion:
    """Store one file as a variant: of ``issue_id``, else of the issue with its slug.

    The other variants of the latest version are kept; the file's language
    replaces the variant of that language.
    """
    language, source, slug = variant_sources(name, text)
    if issue_id is not None:
        issue: StoredIssue | None = get_issue(session, issue_id)
    else:
        issue = session.scalar(select(StoredIssue).where(StoredIssue.slug == slug))
    sources: dict[str, Any] = {}
    default = language
    if issue is not None:
        latest = get_version(session, issue.id)
        sources, default = dict(latest.sources), latest.default_language
        if slug != issue.slug:
            raise ContentError(
                name, f"slug: {slug!r} is not this issue's slug {issue.slug!r}; keep it the same"
            )
    sources[language] = source
    return save_version(session, sources, default, author, issue, note)


def save_version(
    session: Session,
    sources: dict[str, Any],
    default_language: str,
    author: str,
    issue: StoredIssue | None = None,
    note: str = "",
) -> IssueVersion:
    loaded = load_sources(sources, default_language)
    slugs = {v.slug for v in loaded.variants.values()}
    if len(slugs) != 1:
        raise ContentError(
            loaded.default.path, f"the variants have different slugs: {sorted(slugs)}"
        )
    now = utcnow()
    if issue is None:
        if session.scalar(select(StoredIssue.id).where(StoredIssue.slug == loaded.slug)):
            raise ContentError(loaded.default.path, f"an issue {loaded.slug!r} is already stored")
        issue = StoredIssue(slug=loaded.slug, subject=loaded.default.subject, latest_version=0)
        session.add(issue)
        session.flush()
    issue.latest_version += 1
    issue.subject = loaded.default.subject
    issue.updated_at = now
    row = IssueVersion(
        issue_id=issue.id,
        version=issue.latest_version,
        default_language=default_language,
        sources=sources,
        author=author,
        note=note[:250],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def list_issues(session: Session, limit: int = 100, after: int | None = None) -> list[StoredIssue]:
    query = select(StoredIssue).order_by(StoredIssue.id.desc()).limit(limit)
    if after is not None:
        query = query.where(StoredIssue.id < after)
    return list(session.scalars(query))


def versions(session: Session, issue_id: int) -> list[IssueVersion]:
    get_issue(session, issue_id)
    return list(
        session.scalars(
            select(IssueVersion)
            .where(IssueVersion.issue_id == issue_id)
            .order_by(IssueVersion.version.desc())
        )
    )


def sent_from_files(session: Session, limit: int = 50) -> list[Campaign]:
    """Campaigns of issues that are not stored (sent with `mailer send FILE`), newest first."""
    stored = select(StoredIssue.slug)
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.slug.not_in(stored))
            .order_by(Campaign.id.desc())
            .limit(limit)
        )
    )


def adopt(session: Session, campaign_id: int, author: str) -> IssueVersion:
    """Store the issue a campaign sent (its snapshot) as a new stored issue."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    existing = session.scalar(select(StoredIssue).where(StoredIssue.slug == campaign.slug))
    return save_version(
        session,
        dict(campaign.sources),
        campaign.default_language,
        author,
        existing,
        f"as sent by campaign {campaign.id}",
    )


def count_issues(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(StoredIssue)) or 0)


def export(session: Session, issue_id: int, folder: Path, version: int | None = None) -> list[Path]:
    """Write every variant's file into ``folder``; returns the paths written."""
    row = get_version(session, issue_id, version)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in row.sources.values():
        path = folder / _check_name(source["name"])
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(source["text"], encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
