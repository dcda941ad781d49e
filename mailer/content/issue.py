"""Loading an issue: front matter checked field by field, errors with file and line.

An issue file starts with YAML front matter between ``---`` lines, then the
body: Markdown (``.md``) or an HTML fragment (``.html``). Files in the same
folder with the same ``slug`` and different ``language`` are variants of one
issue.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mailer.errors import ContentError
from subscribers.errors import InvalidInput
from subscribers.fields import check_language

KEYS = {
    "subject",
    "title",
    "issue",
    "date",
    "preheader",
    "language",
    "slug",
    "template",
    "list",
    "masthead",
    "publication",
}
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?")
_TEMPLATE = re.compile(r"[a-z0-9_-]{1,50}")
SUFFIXES = (".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class Issue:
    path: Path
    subject: str
    title: str
    language: str
    slug: str
    body: str
    body_line: int  # the file line where the body starts, for error messages
    is_markdown: bool
    template: str = "newsletter"
    number: int | None = None
    date: dt.date | None = None
    preheader: str = ""
    list_slug: str | None = None
    masthead: tuple[str, ...] = ()
    publication: str = ""
    source: str = field(default="", repr=False)  # the whole file, for campaign snapshots


@dataclass(frozen=True)
class IssueSet:
    """All language variants of one issue; ``default`` is the file that was named."""

    default: Issue
    variants: dict[str, Issue] = field(default_factory=dict)
    # Files beside the issue that were not issues (no front matter), said once.
    notes: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        return self.default.slug

    def for_language(self, language: str | None) -> Issue:
        """The subscriber's variant: exact tag, then primary language, then the default."""
        if language:
            if language in self.variants:
                return self.variants[language]
            primary = language.split("-")[0].lower()
            for tag, issue in self.variants.items():
                if tag.split("-")[0].lower() == primary:
                    return issue
        return self.default


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text: ``_date`` checks them, naming the line
    (YAML's own timestamp constructor raises a bare ValueError for 2026-02-30)."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_line(exc: yaml.YAMLError) -> int | None:
    """The file line of a YAML error (the front matter starts on line 2).

    An unclosed quote or bracket is found only at a later line or the end;
    the line where it was opened (the context) is the one to fix.
    """
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    what = f"{getattr(exc, 'context', '')} {getattr(exc, 'problem', '')}"
    opened = any(w in what for w in ("quoted scalar", "flow", "end of stream"))
    mark = context if context is not None and opened else problem
    return mark.line + 2 if mark is not None else None


def _split(path: Path, text: str) -> tuple[dict[str, Any], str, int, dict[str, int]]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise ContentError(path, "must start with front matter between '---' lines", 1)
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise ContentError(path, "the front matter is not closed by a '---' line", 1)
    source = "".join(lines[1:end])
    try:
        data = yaml.load(source, Loader=_FrontMatterLoader) or {}
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContentError(
            path, f"front matter is not valid YAML: {problem}", _yaml_line(exc)
        ) from None
    if not isinstance(data, dict):
        raise ContentError(path, "front matter must be 'key: value' lines", 2)
    key_lines: dict[str, int] = {}
    for i, line in enumerate(lines[1:end], start=2):
        m = re.match(r"([A-Za-z_][\w-]*)\s*:", line)
        if m:
            key_lines.setdefault(m.group(1), i)
    return data, "".join(lines[end + 1 :]), end + 2, key_lines


def _text(path: Path, data: dict[str, Any], key: str, line: int | None, limit: int = 250) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ContentError(path, f"{key}: expected text", line)
    value = str(value).strip()
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ContentError(path, f"{key}: must be one line", line)
    if len(value) > limit:
        raise ContentError(path, f"{key}: {len(value)} characters (at most {limit})", line)
    return value


def load_issue(path: Path | str) -> Issue:
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ContentError(path, f"unknown kind of file; use one of {', '.join(SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(path, f"cannot be read as UTF-8 text: {exc}") from None
    return parse_issue(path, text)


def parse_issue(path: Path, text: str) -> Issue:
    """An issue from its text; ``path`` names it in errors and decides Markdown or HTML."""
    data, body, body_line, lines = _split(path, text)
    for key in data:
        if key not in KEYS:
            raise ContentError(
                path,
                f"unknown front-matter key {key!r} (known: {', '.join(sorted(KEYS))})",
                lines.get(str(key)),
            )
    subject = _text(path, data, "subject", lines.get("subject"))
    if not subject:
        raise ContentError(path, "subject: missing; every issue needs a subject", 1)
    try:
        language = check_language(_text(path, data, "language", lines.get("language"))) or "en"
    except InvalidInput as exc:
        raise ContentError(path, str(exc), lines.get("language")) from None
    slug = _text(path, data, "slug", lines.get("slug")) or re.sub(
        r"[^a-z0-9-]+", "-", path.stem.lower()
    ).strip("-")
    if not _SLUG.fullmatch(slug):
        raise ContentError(
            path, f"slug: {slug!r} must be lower-case letters, digits, hyphens", lines.get("slug")
        )
    template = _text(path, data, "template", lines.get("template")) or "newsletter"
    if not _TEMPLATE.fullmatch(template):
        raise ContentError(
            path, f"template: {template!r} is not a template name", lines.get("template")
        )
    return Issue(
        path=path,
        subject=subject,
        title=_text(path, data, "title", lines.get("title")) or subject,
        language=language,
        slug=slug,
        body=body,
        body_line=body_line,
        is_markdown=path.suffix.lower() in (".md", ".markdown"),
        template=template,
        number=_number(path, data.get("issue"), lines.get("issue")),
        date=_date(path, data.get("date"), lines.get("date")),
        preheader=_text(path, data, "preheader", lines.get("preheader"), limit=500),
        list_slug=_text(path, data, "list", lines.get("list")) or None,
        masthead=_masthead(path, data.get("masthead"), lines.get("masthead")),
        publication=_text(path, data, "publication", lines.get("publication")),
        source=text,
    )


def _number(path: Path, value: Any, line: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContentError(path, f"issue: {value!r} is not an issue number", line)
    return value


_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def _datetime_or_text(text: str) -> dt.datetime | str:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return text


def _date(path: Path, value: Any, line: int | None) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    found = _DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if found:
        try:
            return dt.date(*(int(x) for x in found.groups()))
        except ValueError as exc:  # 2026-13-45, 2026-02-30
            raise ContentError(path, f"date: {value.strip()} is not a date ({exc})", line) from None
    if isinstance(value, str):
        value = _datetime_or_text(value.strip())
    if isinstance(value, dt.datetime):  # YAML reads `2026-12-01 09:00:00` as a datetime
        raise ContentError(
            path,
            f"date: expected a date such as 2021-09-30, not a time ({value:%Y-%m-%d %H:%M})",
            line,
        )
    raise ContentError(path, f"date: {value!r} is not a date such as 2021-09-30", line)


def _masthead(path: Path, value: Any, line: int | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise ContentError(path, "masthead: expected a line of text or a list of lines", line)
    if any("\n" in x or "\r" in x for x in items):
        raise ContentError(path, "masthead: each line must be one line", line)
    return tuple(x.strip() for x in items)


def load_issue_set(path: Path | str) -> IssueSet:
    """The named issue and its variants: same folder, same slug, other languages."""
    default = load_issue(path)
    variants = {default.language: default}
    notes: list[str] = []
    for sibling in sorted(default.path.parent.iterdir()):
        if sibling.suffix.lower() not in SUFFIXES or sibling.resolve() == default.path.resolve():
            continue
        if not _has_front_matter(sibling):
            # A README, or an HTML preview `issues render` wrote: not an issue.
            notes.append(f"{sibling}: ignored (no front matter, so not an issue)")
            continue
        # A broken file beside ours may be a variant we would silently drop:
        # its error is raised here, before anything is sent.
        other = load_issue(sibling)
        if other.slug != default.slug:
            continue
        if other.language in variants:
            raise ContentError(
                sibling,
                f"another file ({variants[other.language].path.name}) is already the "
                f"{other.language!r} variant of {other.slug!r}",
            )
        variants[other.language] = other
    return IssueSet(default, variants, tuple(notes))


def _has_front_matter(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            first = f.readline(64)
    except OSError:
        return True  # let load_issue say what is wrong with it
    return first.removeprefix(b"\xef\xbb\xbf").strip() == b"---"


def snapshot(issues: IssueSet) -> dict[str, dict[str, str]]:
    """Every variant's file name and text, to store with a campaign."""
    return {
        lang: {"name": issue.path.name, "text": issue.source}
        for lang, issue in issues.variants.items()
    }


def from_snapshot(sources: dict[str, dict[str, str]], default_language: str) -> IssueSet:
    variants = {lang: parse_issue(Path(src["name"]), src["text"]) for lang, src in sources.items()}
    return IssueSet(variants[default_language], variants)
