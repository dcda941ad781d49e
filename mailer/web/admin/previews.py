"""Inbox previews in the console: the PNGs `mailer issues preview` writes, on request.

An editor asks for them with a form (POST, CSRF-checked like every console
form): the message of that issue version and language is built as a sample
reader gets it and photographed by mailer.preview (Chromium through
Playwright, seconds of work), then the page shows the three images.

The images live in a cache folder of this user, 0700, under
``<issue id>/<key>/``, where the key is an HMAC of the version, its time and
the language under the secret key: the server makes every name in the path,
and a request names an image only by the issue id (an integer), a key that
must be 32 hex digits and one of three view names, so no path is ever built
from free text.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from mailer.accounts import audit
from mailer.compose import SAMPLE, compose, list_for
from mailer.content.issue import IssueSet
from mailer.db import session_scope
from mailer.issuestore import service
from mailer.preview import VIEWS, PreviewError, write_previews
from mailer.settings import Settings
from mailer.web.admin.render import page
from mailer.web.admin.session import Editor
from mailer.web.api.paging import After, Id
from mailer.web.staff import actor, web_state

router = APIRouter()
NAMES = tuple(v.name for v in VIEWS)  # desktop (600 px), phone (375 px), dark
KEY = re.compile(r"[0-9a-f]{32}")
KEEP = 10  # sets of images kept per issue
Short = Annotated[str, Form(max_length=40)]


def cache_root() -> Path:
    """This user's preview cache in the temp folder (made 0700: previews are unsent mail)."""
    root = Path(tempfile.gettempdir()) / f"mailer-previews-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    if root.is_symlink() or root.stat().st_uid != os.getuid():
        raise PreviewError(f"{root} is not this user's own folder; remove it")
    return root


def _version_arg(v: str) -> int | None:
    return int(v) if v.isdigit() and len(v) < 10 else None


def _load(
    request: Request, issue_id: int, lang: str | None, v: int | None
) -> tuple[IssueSet, str, int, str]:
    """(the issues, the language, the version number, the cache key)."""
    web = web_state(request)
    with session_scope(web.db) as s:
        row = service.get_version(s, issue_id, v)
        issues = service.issue_set(row)
        stamp = f"{row.issue_id}:{row.version}:{row.created_at.isoformat()}"
        number = row.version
    language = issues.for_language(lang or None).language
    return issues, language, number, _key(web.settings, stamp, language)


def _key(settings: Settings, stamp: str, language: str) -> str:
    secret = (settings.secret_key or "mailer").encode()
    return hmac.new(secret, f"{stamp}:{language}".encode(), "sha256").hexdigest()[:32]


def _folder(issue_id: int, key: str) -> Path:
    return cache_root() / str(issue_id) / key


@router.post("/issues/{issue_id}/inbox-previews")
def make(request: Request, issue_id: Id, user: Editor, lang: Short = "", v: Short = "") -> Response:
    issues, language, number, key = _load(request, issue_id, lang, _version_arg(v))
    settings = web_state(request).settings
    data = compose(issues, settings, list_for(None, None), "preview")
    message = data.factory(language).build(SAMPLE).data
    parent = _folder(issue_id, key).parent
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written aside, then renamed: a page never shows half a set.
    work = Path(tempfile.mkdtemp(dir=parent, prefix=".work-"))
    try:
        write_previews(message, work)
        final = _folder(issue_id, key)
        shutil.rmtree(final, ignore_errors=True)
        with contextlib.suppress(OSError):  # a concurrent request renamed its own first
            work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with session_scope(web_state(request).db) as s:
        audit.record(
            s, actor(user, request), "issue.inbox_previews", issue_id, version=number, lang=language
        )
    _prune(parent)
    query = urlencode({"lang": language, "v": number})
    return RedirectResponse(f"/admin/issues/{issue_id}/inbox-previews?{query}", status_code=303)


def _prune(parent: Path) -> None:
    """Keep an issue's KEEP newest sets: full-page screenshots run to megabytes."""
    sets = sorted(
        (p for p in parent.iterdir() if KEY.fullmatch(p.name) and p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in sets[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


@router.get("/issues/{issue_id}/inbox-previews")
def show(
    request: Request, issue_id: Id, user: Editor, lang: str | None = None, v: After = None
) -> Response:
    issues, language, number, key = _load(request, issue_id, lang, v)
    folder = _folder(issue_id, key)
    ready = all((folder / f"{name}.png").is_file() for name in NAMES)
    return page(
        request,
        "inbox_previews.html",
        user,
        f"Inbox previews: {issues.for_language(language).subject}",
        issue_id=issue_id,
        language=language,
        version=number,
        key=key,
        views=VIEWS,
        ready=ready,
    )


@router.get("/issues/{issue_id}/inbox-previews/{key}/{view}.png")
def image(issue_id: Id, key: str, view: str, user: Editor) -> Response:
    if not KEY.fullmatch(key) or view not in NAMES:
        return Response(status_code=404)
    path = _folder(issue_id, key) / f"{view}.png"
    if not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private"})
