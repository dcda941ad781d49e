"""Render once per issue variant: body template, Markdown, layout, CSS inlining.

The result holds the HTML and text split around per-recipient sentinels, so
personalizing a message is a join (see split.py). Every template error —
syntax, an undefined variable — is raised here, naming the file and line,
before anything is sent.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import premailer
from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError
from markupsafe import Markup

from mailer.content.issue import Issue, IssueSet
from mailer.content.markup import html_to_text, to_html, to_text
from mailer.errors import ContentError
from mailer.render.environment import body_environment, layout_environment, long_date
from mailer.render.split import Sentinels, SplitTemplate, SubscriberProxy
from mailer.render.strings import strings_for

_PROXY_NAME = f"'{SubscriberProxy.__module__}.{SubscriberProxy.__name__} object'"
# Per-recipient fields every message has, besides the subscriber's attributes.
LINK_FIELDS = ("unsubscribe_url", "preferences_url")


@dataclass(frozen=True)
class Audience:
    """Who the issue goes to, as the layout's footer names them."""

    list_title: str
    list_slug: str
    organization: str = ""
    postal_address: str = ""
    base_url: str = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class PreparedVariant:
    issue: Issue
    html: SplitTemplate
    text: SplitTemplate
    view_url: str

    @property
    def fields(self) -> set[str]:
        return set(self.html.fields) | set(self.text.fields)


@dataclass(frozen=True)
class PreparedIssue:
    issues: IssueSet
    audience: Audience
    variants: dict[str, PreparedVariant] = field(default_factory=dict)

    def for_language(self, language: str | None) -> PreparedVariant:
        return self.variants[self.issues.for_language(language).language]


def _template_line(tb: TracebackType | None, name: str) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_body(issue: Issue, context: dict[str, Any]) -> str:
    env = body_environment(autoescape=not issue.is_markdown)
    try:
        return env.from_string(issue.body).render(context)
    except TemplateSyntaxError as exc:
        line = issue.body_line + (exc.lineno or 1) - 1
        raise ContentError(issue.path, f"template error: {exc.message}", line) from None
    except TemplateError as exc:
        tb_line = _template_line(sys.exc_info()[2], "<template>")
        where = issue.body_line + tb_line - 1 if tb_line else None
        message = str(exc.message).replace(_PROXY_NAME, "subscriber")
        raise ContentError(issue.path, f"template error: {message}", where) from None


def _render_layout(issue: Issue, suffix: str, context: dict[str, Any]) -> str:
    name = f"email/{issue.template}.{suffix}"
    try:
        template = layout_environment().get_template(name)
        return template.render(context)
    except TemplateNotFound:
        raise ContentError(issue.path, f"template: no layout {name} in templates/") from None
    except TemplateSyntaxError as exc:
        raise ContentError(
            exc.filename or name, f"template error: {exc.message}", exc.lineno
        ) from None
    except TemplateError as exc:
        filename = layout_environment().get_template(name).filename or name
        line = _template_line(sys.exc_info()[2], filename)
        raise ContentError(filename, f"template error: {exc.message}", line) from None


def inline_css(html: str) -> str:
    """premailer: styles into attributes; @media rules stay in a <style> block."""
    return str(
        premailer.Premailer(
            html,
            remove_classes=False,
            strip_important=False,
            keep_style_tags=False,
            disable_validation=True,
            allow_network=False,
            cssutils_logging_level=logging.CRITICAL,
        ).transform(pretty_print=False)
    )


def prepare_variant(issue: Issue, audience: Audience, default_language: str) -> PreparedVariant:
    sentinels = Sentinels()
    subscriber = SubscriberProxy(sentinels)
    words = strings_for(issue.language)
    view_url = f"{audience.base_url.rstrip('/')}/archive/{issue.slug}"
    if issue.language != default_language:
        view_url += f"?lang={issue.language}"
    context: dict[str, Any] = {
        "issue": issue,
        "date_text": long_date(issue.date, issue.language),
        "issue_line": (
            words["issue"].format(number=issue.number, year=issue.date.year)
            if issue.number is not None and issue.date is not None
            else ""
        ),
        "subscriber": subscriber,
        "list": audience,
        "links": {
            "unsubscribe": sentinels("unsubscribe_url"),
            "preferences": sentinels("preferences_url"),
            "view": view_url,
        },
        "words": words,
    }
    body = _render_body(issue, context)
    if issue.is_markdown:
        body_html = to_html(body)
        body_text, links = to_text(body)
    else:
        body_html = body
        body_text, links = html_to_text(body)
    html = _render_layout(issue, "html", {**context, "body": Markup(body_html)})
    text = _render_layout(issue, "txt", {**context, "body": body_text, "body_links": links})
    return PreparedVariant(
        issue=issue,
        html=sentinels.split(inline_css(html)),
        text=sentinels.split(text),
        view_url=view_url,
    )


def prepare_issue(issues: IssueSet, audience: Audience) -> PreparedIssue:
    default = issues.default.language
    variants = {
        lang: prepare_variant(issue, audience, default) for lang, issue in issues.variants.items()
    }
    return PreparedIssue(issues, audience, variants)
