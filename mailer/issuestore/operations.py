"""What staff do with an issue before and when it goes out: preview, check,
test-send, count the audience, schedule.

The same functions the CLI's `issues render/check/test` and `send` use
(compose, check_markup, check_size, create_campaign, schedule_campaign), so
a preview is the message a subscriber receives.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, exists, func, select
from sqlalchemy.orm import Session

from mailer.campaigns import service as campaigns
from mailer.compose import SAMPLE, compose, list_for
from mailer.content.check import check_markup, check_size
from mailer.content.issue import IssueSet
from mailer.message import OutgoingMessage, Recipient
from mailer.scheduler.runner import schedule_campaign
from mailer.settings import Settings
from subscribers.addresses import parse_address
from subscribers.lists import get_list
from subscribers.models import (
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)


@dataclass(frozen=True)
class Preview:
    language: str
    subject: str
    html: str
    text: str


@dataclass
class CheckResult:
    problems: list[str] = field(default_factory=list)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "sizes": self.sizes}


def preview(
    issues: IssueSet, settings: Settings, mailing_list: MailingList | None, language: str | None
) -> Preview:
    """The HTML and text parts a sample reader of ``language`` would get."""
    comp = compose(issues, settings, mailing_list or list_for(None, None), "preview")
    factory = comp.factory(language)
    values = factory.values(SAMPLE)
    variant = factory.variant
    chosen = issues.for_language(language)
    return Preview(
        chosen.language, chosen.subject, variant.html.fill_html(values), variant.text.fill(values)
    )


def check(issues: IssueSet, settings: Settings) -> CheckResult:
    """`mailer issues check`: markup problems and message sizes, per variant."""
    comp = compose(issues, settings, list_for(None, None), "check")
    result = CheckResult()
    for language, issue in issues.variants.items():
        found = check_markup(issue)
        factory = comp.factory(language)
        html_bytes = len(factory.variant.html.fill_html(factory.values(SAMPLE)).encode("utf-8"))
        result.sizes[language] = {"html": html_bytes, "message": len(factory.build(SAMPLE).data)}
        found += check_size(issue, html_bytes)
        result.problems += [str(p) for p in found]
    return result


def test_message(
    issues: IssueSet, settings: Settings, to: str, language: str | None = None
) -> OutgoingMessage:
    """One message to one address, subject "[TEST] …"; never to a list."""
    address = parse_address(to)
    comp = compose(
        issues, settings, list_for(None, None), f"test-{secrets.token_hex(6)}", "[TEST] "
    )
    return comp.factory(language).build(Recipient(0, address.given, SAMPLE.name))


def test_send(
    issues: IssueSet,
    settings: Settings,
    to: str,
    send: Callable[[OutgoingMessage], None],
    language: str | None = None,
) -> OutgoingMessage:
    message = test_message(issues, settings, to, language)
    send(message)
    return message


def recipient_count(session: Session, list_slug: str) -> int:
    """Who a campaign to this list would reach now: confirmed and not suppressed."""
    ml = get_list(session, list_slug)
    suppressed = exists().where(Suppression.email_hash == Subscriber.email_hash)
    return int(
        session.scalar(
            select(func.count())
            .select_from(Subscription)
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(
                Subscription.list_id == ml.id,
                Subscription.status == SubscriptionStatus.CONFIRMED,
                ~suppressed,
            )
        )
        or 0
    )


def schedule(
    session: Session,
    settings: Settings,
    issues: IssueSet,
    list_slug: str,
    when: datetime,
    force: bool = False,
) -> int:
    """`mailer send` without --wait: check every template, record, store the start job.

    The job is stored after ``session`` commits (the caller's), by
    ``schedule_job``; `mailer run`'s sweep also starts a due campaign.
    """
    ml = get_list(session, list_slug)
    compose(issues, settings, ml, "check")
    campaign = campaigns.create_campaign(session, issues, list_slug, when, force=force)
    return campaign.id


def schedule_job(engine: Engine, settings: Settings, campaign_id: int, when: datetime) -> None:
    schedule_campaign(engine, settings, campaign_id, when)
