"""Builders for campaign and delivery tests: a list, subscribers, a campaign."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Engine, select

from mailer.campaigns.models import Delivery
from mailer.campaigns.service import create_campaign, start_campaign
from mailer.content import load_issue_set
from mailer.db import session_scope
from mailer.settings import Settings
from subscribers.lists import create_list
from subscribers.members import add_subscriber
from subscribers.models import utcnow
from tests.mailer.helpers import EXAMPLE

SETTINGS = dataclasses.replace(
    Settings(),
    secret_key="test-secret",
    from_address="LMEC <news@example.org>",
    base_url="https://news.example.org",
    retry_base_seconds=0.05,
    retry_max_seconds=0.2,
    retry_deadline_hours=1.0,
    workers=2,
)


def populate(engine: Engine, n: int, list_slug: str = "lmec-news", **kinds: str) -> list[str]:
    """A list with ``n`` confirmed subscribers u0…; returns their addresses."""
    emails = [f"u{i}@example.org" for i in range(n)]
    with session_scope(engine) as s:
        create_list(s, list_slug, title="LMEC Newsletter")
        for email in emails:
            add_subscriber(s, email, list_slug, confirmed=True, **kinds)  # type: ignore[arg-type]
    return emails


def new_campaign(
    engine: Engine,
    list_slug: str = "lmec-news",
    start: bool = True,
    when: datetime | None = None,
    issue: str | None = None,
    force: bool = False,
) -> int:
    with session_scope(engine) as s:
        c = create_campaign(
            s, load_issue_set(issue or EXAMPLE), list_slug, when or utcnow(), force=force
        )
        if start:
            start_campaign(s, c)
        return c.id


def ledger(engine: Engine, campaign_id: int) -> list[Delivery]:
    with session_scope(engine) as s:
        rows = list(
            s.scalars(
                select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
            )
        )
        s.expunge_all()
        return rows
