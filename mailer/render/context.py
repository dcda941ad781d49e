"""What an issue's templates may see: plain data made from the issue and its audience.

Never the ``Issue`` (it holds a ``Path``), never the settings: each template
variable is a dict of text, numbers and dates (``sandbox.plain`` checks it).
Per-recipient values are sentinels filled in after rendering (split.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailer.content.issue import Issue
from mailer.render.environment import long_date
from mailer.render.sandbox import Fields, OpenFields, plain
from mailer.render.split import Sentinels
from mailer.render.strings import strings_for

SUBSCRIBER_HINT = "use name, email or attributes.NAME"


@dataclass(frozen=True)
class Audience:
    """Who the issue goes to, as the layout's footer names them."""

    list_title: str
    list_slug: str
    organization: str = ""
    postal_address: str = ""
    base_url: str = "http://127.0.0.1:8000"


def issue_fields(issue: Issue) -> Fields:
    return Fields(
        "issue",
        "",
        subject=issue.subject,
        title=issue.title,
        language=issue.language,
        slug=issue.slug,
        template=issue.template,
        number=issue.number,
        date=issue.date,
        preheader=issue.preheader,
        list=issue.list_slug,
        masthead=list(issue.masthead),
        publication=issue.publication,
    )


def subscriber_fields(sentinels: Sentinels) -> Fields:
    attributes = OpenFields("subscriber.attributes", lambda key: sentinels(f"attr.{key}"))
    return Fields(
        "subscriber",
        SUBSCRIBER_HINT,
        name=sentinels("name"),
        email=sentinels("email"),
        attributes=attributes,
    )


def view_url(issue: Issue, audience: Audience, default_language: str) -> str:
    url = f"{audience.base_url.rstrip('/')}/archive/{issue.slug}"
    if issue.language != default_language:
        url += f"?lang={issue.language}"
    return url


def template_context(
    issue: Issue, audience: Audience, sentinels: Sentinels, view: str, *, web: bool = False
) -> dict[str, Any]:
    """The variables of the body and the layout. ``web``: the archive's version."""
    words = strings_for(issue.language)
    context: dict[str, Any] = {
        "issue": issue_fields(issue),
        "date_text": long_date(issue.date, issue.language),
        "issue_line": (
            words["issue"].format(number=issue.number, year=issue.date.year)
            if issue.number is not None and issue.date is not None
            else ""
        ),
        "subscriber": subscriber_fields(sentinels),
        "list": Fields(
            "list",
            "",
            list_title=audience.list_title,
            list_slug=audience.list_slug,
            organization=audience.organization,
            postal_address=audience.postal_address,
        ),
        "links": Fields(
            "links",
            "",
            unsubscribe=sentinels("unsubscribe_url"),
            preferences=sentinels("preferences_url"),
            view=view,
        ),
        "words": Fields("words", "", words),
        "web": web,
    }
    plain(context)
    return context
