"""Markdown to an HTML fragment and to plain text, from one parse.

CommonMark (markdown-it-py) with tables and a few containers the email
layout styles:

    ::: speaker Chen Zihua | Director of the Department of Climate Change
    Statement paragraphs…
    :::

``contact``, ``about`` and ``note`` containers take no argument.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

from mailer.content.plaintext import TextRenderer, speaker_parts

CONTAINERS = ("speaker", "contact", "about", "note")


def _render_container(kind: str) -> Any:
    def render(_self: Any, tokens: Sequence[Token], idx: int, _options: Any, _env: Any) -> str:
        token = tokens[idx]
        if token.nesting == -1:
            return "</td></tr></table>\n" if kind == "speaker" else "</div>\n"
        if kind != "speaker":
            return f'<div class="{kind}">\n'
        name, title = speaker_parts(token.info)
        head = f'<p class="speaker-name">{html.escape(name)}</p>\n'
        if title:
            head += f'<p class="speaker-title">{html.escape(title)}</p>\n'
        return (
            '<table role="presentation" class="speaker" width="100%" cellpadding="0" '
            'cellspacing="0" border="0"><tr><td class="speaker-cell">\n' + head
        )

    return render


def _table_attributes(state: Any) -> None:
    """Markdown tables get the layout's ``data-table`` class (and the attributes
    Outlook needs), so they are styled like the rest of the email."""
    for token in state.tokens:
        if token.type == "table_open":
            for name, value in TABLE_ATTRS:
                token.attrSet(name, value)


TABLE_ATTRS = [("class", "data-table"), ("width", "100%"), ("cellpadding", "0")]
TABLE_ATTRS += [("cellspacing", "0")]


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable("table")
    md.core.ruler.push("table_attributes", _table_attributes)
    for kind in CONTAINERS:
        md.use(container_plugin, name=kind, render=_render_container(kind))
    return md


_MD = _markdown()


def parse(markdown: str) -> list[Token]:
    return list(_MD.parse(markdown))


def to_html(markdown: str) -> str:
    return str(_MD.render(markdown))


def to_text(markdown: str, width: int = 78) -> tuple[str, list[str]]:
    """Plain text wrapped at ``width`` columns, and the links it refers to as [n]."""
    tokens = _MD.parse(markdown)
    return TextRenderer(width).render(tokens)


def html_to_text(fragment: str, width: int = 78) -> tuple[str, list[str]]:
    """For HTML-fragment issues: the text of the fragment, paragraphs kept."""
    return TextRenderer(width).render_html(fragment)
