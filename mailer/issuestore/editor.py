"""The console's issue editor: front matter as form fields, the body as Markdown.

``fields_of`` reads a variant's file into the fields; ``file_text`` writes
the fields and body back into a file's text, which is then loaded (and
checked) like any other file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mailer.content.issue import parse_issue

# (key, label) in the order the form shows them; masthead is one line per entry.
FIELDS = (
    ("subject", "Subject"),
    ("title", "Headline"),
    ("preheader", "Preheader (the line inboxes show)"),
    ("publication", "Publication"),
    ("masthead", "Masthead (one line each)"),
    ("issue", "Issue number"),
    ("date", "Date (YYYY-MM-DD)"),
    ("language", "Language"),
    ("slug", "Slug (same for every language variant)"),
    ("list", "Default list for previews"),
)


def fields_of(name: str, text: str) -> tuple[dict[str, str], str]:
    """(form fields, body) of a stored file."""
    issue = parse_issue(Path(name), text)
    return {
        "subject": issue.subject,
        "title": issue.title if issue.title != issue.subject else "",
        "preheader": issue.preheader,
        "publication": issue.publication,
        "masthead": "\n".join(issue.masthead),
        "issue": "" if issue.number is None else str(issue.number),
        "date": issue.date.isoformat() if issue.date else "",
        "language": issue.language,
        "slug": issue.slug,
        "list": issue.list_slug or "",
    }, issue.body


def file_text(fields: dict[str, str], body: str) -> str:
    """Front matter from the non-empty fields, then the body."""
    data: dict[str, Any] = {}
    for key, _label in FIELDS:
        value = (fields.get(key) or "").strip()
        if not value:
            continue
        if key == "masthead":
            lines = [line.strip() for line in value.splitlines() if line.strip()]
            data[key] = lines if len(lines) > 1 else lines[0]
        elif key == "issue" and value.isdigit():
            data[key] = int(value)
        else:
            data[key] = value  # a date stays text; the loader checks its form
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{front}---\n{body.replace(chr(13) + chr(10), chr(10))}"


def file_name(fields: dict[str, str]) -> str:
    slug = (fields.get("slug") or "issue").strip() or "issue"
    language = (fields.get("language") or "en").strip() or "en"
    return f"{slug}.{language}.md"
