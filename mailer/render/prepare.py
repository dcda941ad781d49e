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
from pathlib import Path
from types import TracebackType
from typing import Any

import premailer
from jinja2 import Template, TemplateError, TemplateNotFound, TemplateSyntaxError
from markupsafe import Markup

from mailer.content.issue import Issue, IssueSet
from mailer.content.markup import html_to_text, to_html, to_text
from mailer.errors import ContentError
from mailer.render.context import Audience, template_context, view_url
from mailer.render.environment import body_environment, layout_environment
from mailer.render.sandbox import render_bounded
from mailer.render.split import Sentinels, SplitTemplate

TEXT_WIDTH = 78  # columns of the plain-text part


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


def _describe(exc: Exception) -> str:
    if isinstance(exc, TemplateError):
        return str(exc.message)
    # Anything else a template can raise (OverflowError, ZeroDivisionError…)
    # is the author's mistake too: said, not a traceback.
    return f"{type(exc).__name__}: {exc}"


def _render_body(issue: Issue, context: dict[str, Any]) -> str:
    env = body_environment(autoescape=not issue.is_markdown)
    try:
        return render_bounded(env.from_string(issue.body), context)
    except TemplateSyntaxError as exc:
        line = issue.body_line + (exc.lineno or 1) - 1
        raise ContentError(issue.path, f"template error: {exc.message}", line) from None
    except Exception as exc:
        tb_line = getattr(exc, "template_line", None) or _template_line(
            sys.exc_info()[2], "<template>"
        )
        where = issue.body_line + tb_line - 1 if tb_line else None
        raise ContentError(issue.path, f"template error: {_describe(exc)}", where) from None


def _render_layout(issue: Issue, suffix: str, context: dict[str, Any]) -> str:
    name = f"email/{issue.template}.{suffix}"
    template: Template | None = None
    try:
        template = layout_environment().get_template(name)
        return render_bounded(template, context)
    except TemplateNotFound:
        raise ContentError(issue.path, f"template: no layout {name} in templates/") from None
    except TemplateSyntaxError as exc:
        raise ContentError(
            exc.filename or name, f"template error: {exc.message}", exc.lineno
        ) from None
    except Exception as exc:
        filename = (template.filename if template else None) or name
        line = getattr(exc, "template_line", None) or _template_line(sys.exc_info()[2], filename)
        raise ContentError(Path(filename), f"template error: {_describe(exc)}", line) from None


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


def _render(
    issue: Issue, audience: Audience, sentinels: Sentinels, view: str, web: bool
) -> tuple[str, str]:
    """The whole HTML document (CSS inlined) and the plain text, with sentinels."""
    context = template_context(issue, audience, sentinels, view, web=web)
    body = _render_body(issue, context)
    if issue.is_markdown:
        body_html = to_html(body)
        body_text, links = to_text(body)
    else:
        body_html = body
        body_text, links = html_to_text(body)
    html = _render_layout(issue, "html", {**context, "body": Markup(body_html)})
    text = (
        ""
        if web
        else _render_layout(issue, "txt", {**context, "body": body_text, "body_links": links})
    )
    return inline_css(html), text


def prepare_variant(issue: Issue, audience: Audience, default_language: str) -> PreparedVariant:
    sentinels = Sentinels()
    view = view_url(issue, audience, default_language)
    html, text = _render(issue, audience, sentinels, view, web=False)
    return PreparedVariant(
        issue=issue,
        html=sentinels.split(html, html=True),
        text=sentinels.split_text(text, TEXT_WIDTH),
        view_url=view,
    )


def prepare_web(issue: Issue, audience: Audience) -> SplitTemplate:
    """The archive's version: the issue without the mail-only footer, personal fields open."""
    sentinels = Sentinels()
    html, _ = _render(issue, audience, sentinels, "", web=True)
    return sentinels.split(html, html=True)


def prepare_issue(issues: IssueSet, audience: Audience) -> PreparedIssue:
    default = issues.default.language
    variants = {
        lang: prepare_variant(issue, audience, default) for lang, issue in issues.variants.items()
    }
    return PreparedIssue(issues, audience, variants)
