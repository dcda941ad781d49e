"""The plain-text alternative: markdown-it tokens rendered as readable text.

Paragraphs are wrapped at 78 columns (counting East Asian wide characters as
two), links become ``text [n]`` with the URLs listed after the body, speaker
blocks keep their name and title lines. Written here rather than taken from
html2text or inscriptis because those work from HTML (20 ms a page, and the
link list and wrapping are theirs, not ours); this works from the same parse
as the HTML and costs a fraction of that, once per issue.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import ClassVar

from markdown_it.token import Token

_WORD = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff]+")


def speaker_parts(info: str) -> tuple[str, str]:
    """``speaker Name | Title`` → (name, title)."""
    rest = info.strip()[len("speaker") :].strip()
    name, _, title = rest.partition("|")
    return name.strip(), title.strip()


def width_of(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """Greedy wrap; a CJK character may break anywhere, other words only at spaces."""
    lines: list[str] = []
    line, used = first, width_of(first)
    pending_space = False
    for m in _WORD.finditer(text):
        word = m.group()
        cjk = len(word) == 1 and width_of(word) == 2
        space = pending_space or (m.start() > 0 and text[m.start() - 1].isspace())
        pending_space = False
        sep = " " if space and line.strip() else ""
        w = width_of(word)
        if used + len(sep) + w > width and line.strip():
            lines.append(line.rstrip())
            line, used, sep = rest, width_of(rest), ""
        line += sep + word
        used += len(sep) + w
        if not cjk and m.end() < len(text) and text[m.end()].isspace():
            pending_space = True
    if line.strip():
        lines.append(line.rstrip())
    return lines or [first.rstrip()]


class TextRenderer:
    def __init__(self, width: int = 78) -> None:
        self.width = width
        self.links: list[str] = []

    def render(self, tokens: Sequence[Token]) -> tuple[str, list[str]]:
        blocks: list[str] = []
        prefix: list[str] = []
        list_stack: list[list[int]] = []  # [next number or 0 for bullets]
        item_marker = ""
        i = 0
        while i < len(tokens):
            t = tokens[i]
            kind = t.type
            if kind == "heading_open":
                text = self.inline(tokens[i + 1])
                under = {"h1": "=", "h2": "-"}.get(t.tag)
                block = "\n".join(wrap(text, self.width))
                if under:
                    block += "\n" + under * min(
                        self.width, max(width_of(x) for x in block.split("\n"))
                    )
                blocks.append(block)
                i += 3
                continue
            if kind == "paragraph_open":
                text = self.inline(tokens[i + 1])
                lead = "".join(prefix)
                first = lead + item_marker
                rest = lead + " " * len(item_marker)
                item_marker = ""
                out = []
                for n, para_line in enumerate(text.split("\n")):
                    out += wrap(para_line, self.width, first if n == 0 else rest, rest)
                blocks.append("\n".join(out))
                i += 3
                continue
            if kind in ("bullet_list_open", "ordered_list_open"):
                list_stack.append(
                    [int(t.attrGet("start") or 1) if kind == "ordered_list_open" else 0]
                )
            elif kind in ("bullet_list_close", "ordered_list_close"):
                list_stack.pop()
            elif kind == "list_item_open" and list_stack:
                top = list_stack[-1]
                item_marker = f"{top[0]}. " if top[0] else "- "
                if top[0]:
                    top[0] += 1
                if len(list_stack) > 1:
                    item_marker = "  " * (len(list_stack) - 1) + item_marker
            elif kind == "blockquote_open":
                prefix.append("> ")
            elif kind == "blockquote_close":
                prefix.pop()
            elif kind == "hr":
                blocks.append("-" * 20)
            elif kind in ("fence", "code_block"):
                blocks.append("\n".join("    " + x for x in t.content.rstrip("\n").split("\n")))
            elif kind == "html_block":
                text, _ = self.render_html(t.content)
                if text:
                    blocks.append(text)
            elif kind == "container_speaker_open":
                name, title = speaker_parts(t.info)
                blocks.append(
                    "\n".join(
                        [
                            *wrap(name.upper(), self.width),
                            *(wrap(title, self.width) if title else []),
                        ]
                    )
                )
            elif kind.startswith("container_") and kind.endswith("_open"):
                blocks.append("-" * 20)
            elif kind == "table_open":
                j, rows = i, list[list[str]]()
                while tokens[j].type != "table_close":
                    if tokens[j].type == "tr_open":
                        rows.append([])
                    elif tokens[j].type == "inline":
                        rows[-1].append(self.inline(tokens[j]))
                    j += 1
                blocks.append("\n".join(" | ".join(r) for r in rows))
                i = j
            i += 1
        return "\n\n".join(b for b in blocks if b.strip()) + "\n", self.links

    def inline(self, token: Token) -> str:
        out: list[str] = []
        href_stack: list[str] = []
        start_stack: list[int] = []
        for child in token.children or []:
            kind = child.type
            if kind == "text":
                out.append(child.content)
            elif kind == "softbreak":
                out.append(" ")
            elif kind == "hardbreak":
                out.append("\n")
            elif kind == "code_inline":
                out.append(child.content)
            elif kind == "link_open":
                href_stack.append(str(child.attrGet("href") or ""))
                start_stack.append(len(out))
            elif kind == "link_close" and href_stack:
                href = href_stack.pop()
                text = "".join(out[start_stack.pop() :])
                if text.strip() and text.strip() not in (href, href.removeprefix("mailto:")):
                    out.append(f" [{self._ref(href)}]")
            elif kind == "image":
                alt = child.content or str(child.attrGet("alt") or "")
                if alt:
                    out.append(f"[{alt}]")
            elif kind == "html_inline" and child.content.lower().startswith("<br"):
                out.append("\n")
        return "".join(out).strip()

    def _ref(self, href: str) -> int:
        if href not in self.links:
            self.links.append(href)
        return self.links.index(href) + 1

    def render_html(self, fragment: str) -> tuple[str, list[str]]:
        parser = _Blocks()
        parser.feed(fragment)
        parser.close()
        paras = [" ".join(p.split()) for p in parser.blocks]
        text = "\n\n".join("\n".join(wrap(p, self.width)) for p in paras if p)
        return text, self.links


class _Blocks(HTMLParser):
    """Text of an HTML fragment, one block per paragraph-like element."""

    BREAKS: ClassVar[set[str]] = {
        "p",
        "div",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "li",
        "tr",
        "table",
        "blockquote",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = [""]
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        if tag in self.BREAKS:
            self.blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        if tag in self.BREAKS:
            self.blocks.append("")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.blocks[-1] += data
