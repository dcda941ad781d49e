"""Console pages for issues: list, upload, editor with live preview, the issue page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mailer.accounts import audit
from mailer.db import session_scope
from mailer.errors import MailerError
from mailer.issuestore import editor, operations, service
from mailer.issuestore.service import load_sources, variant_sources
from mailer.web.admin.render import fragment, page
from mailer.web.admin.session import Editor, Viewer
from mailer.web.api.paging import After, Id
from mailer.web.staff import actor, web_state
from subscribers.lists import summarize_lists

router = APIRouter()
# The message is the issue author's HTML: shown only in sandboxed frames, and
# when opened directly, sandboxed by this header too.
SANDBOX = {
    "Content-Security-Policy": "sandbox; script-src 'none'; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}
Text = Annotated[str, Form(max_length=2000)]


@router.get("/")
def home() -> Response:
    return RedirectResponse("/admin/issues", status_code=303)


@router.get("/issues")
def issues(request: Request, user: Viewer) -> Response:
    with session_scope(web_state(request).db) as s:
        rows = service.list_issues(s, 200)
        sent = service.sent_from_files(s)
    return page(request, "issues.html", user, "Issues", issues=rows, sent=sent)


@router.post("/issues/adopt/{campaign_id}")
def adopt(request: Request, campaign_id: Id, user: Editor) -> Response:
    """Keep an issue sent with `mailer send FILE` in the console, as it was sent."""
    with session_scope(web_state(request).db) as s:
        version = service.adopt(s, campaign_id, user.email)
        audit.record(s, actor(user, request), "issue.adopt", version.issue_id, campaign=campaign_id)
    return RedirectResponse(f"/admin/issues/{version.issue_id}?notice=stored", status_code=303)


@router.post("/issues/upload")
async def upload(request: Request, user: Editor, file: UploadFile) -> Response:
    data = await file.read(service.MAX_SIZE + 1)
    name = file.filename or "issue.md"
    try:
        text = data.decode("utf-8-sig")
        with session_scope(web_state(request).db) as s:
            version = service.save_variant(s, name, text, user.email, note=f"uploaded {name}")
            audit.record(s, actor(user, request), "issue.upload", version.issue_id, file=name)
    except UnicodeDecodeError:
        return _upload_error(request, user, f"{name}: not UTF-8 text")
    except MailerError as exc:
        return _upload_error(request, user, str(exc))
    return RedirectResponse(f"/admin/issues/{version.issue_id}?notice=saved", status_code=303)


def _upload_error(request: Request, user: Editor, message: str) -> Response:
    with session_scope(web_state(request).db) as s:
        rows = service.list_issues(s, 200)
        sent = service.sent_from_files(s)
    return page(request, "issues.html", user, "Issues", 422, issues=rows, sent=sent, error=message)


@router.get("/issues/new")
def new(request: Request, user: Editor, issue: After = None) -> Response:
    fields = {key: "" for key, _ in editor.FIELDS}
    fields["language"] = "en"
    body = ""
    if issue is not None:  # a new language variant: start from the default one
        with session_scope(web_state(request).db) as s:
            version = service.get_version(s, issue)
            source = version.sources[version.default_language]
            fields, body = editor.fields_of(source["name"], source["text"])
            fields["language"] = ""
    return _editor(request, user, fields, body, issue, None)


@router.get("/issues/{issue_id}/edit")
def edit(request: Request, issue_id: Id, user: Editor, lang: str | None = None) -> Response:
    with session_scope(web_state(request).db) as s:
        version = service.get_version(s, issue_id)
        language = lang if lang in version.sources else version.default_language
        source = version.sources[language]
    fields, body = editor.fields_of(source["name"], source["text"])
    return _editor(request, user, fields, body, issue_id, source["name"])


def _editor(
    request: Request,
    user: Editor,
    fields: dict[str, str],
    body: str,
    issue_id: int | None,
    name: str | None,
    error: str = "",
    status: int = 200,
) -> Response:
    return page(
        request,
        "editor.html",
        user,
        "Write an issue" if issue_id is None else f"Edit issue {issue_id}",
        status,
        fields=fields,
        labels=editor.FIELDS,
        body=body,
        issue_id=issue_id,
        name=name or "",
        error=error,
    )


async def _form_fields(request: Request) -> tuple[dict[str, str], str, str, int | None]:
    form = await request.form()

    def get(key: str, limit: int = 2000) -> str:
        value = form.get(key, "")
        return value[:limit] if isinstance(value, str) else ""

    fields = {key: get(key) for key, _ in editor.FIELDS}
    issue = get("issue_id")
    return (
        fields,
        get("body", service.MAX_SIZE),
        get("name", 200),
        int(issue) if issue.isdigit() and len(issue) < 15 else None,
    )


@router.post("/issues/save")
async def save(request: Request, user: Editor) -> Response:
    fields, body, name, issue_id = await _form_fields(request)
    orig_lang = str((await request.form()).get("orig_lang", ""))
    text = editor.file_text(fields, body)
    # A changed language makes a new variant, so a new file name.
    if not name or issue_id is None or fields.get("language") != orig_lang:
        name = editor.file_name(fields)
    try:
        with session_scope(web_state(request).db) as s:
            version = service.save_variant(
                s, name, text, user.email, issue_id, "edited in the console"
            )
            audit.record(
                s, actor(user, request), "issue.save", version.issue_id, version=version.version
            )
    except MailerError as exc:
        return _editor(request, user, fields, body, issue_id, name, str(exc), 422)
    lang = fields.get("language") or ""
    return RedirectResponse(
        f"/admin/issues/{version.issue_id}?lang={lang}&notice=saved-version",
        status_code=303,
    )


@router.post("/issues/preview")
async def live_preview(request: Request, user: Viewer) -> HTMLResponse:
    """The editor's live preview: the unsaved text, rendered by the sending code."""
    fields, body, _name, _issue = await _form_fields(request)
    web = web_state(request)
    try:
        language, source, _slug = variant_sources(
            editor.file_name(fields), editor.file_text(fields, body)
        )
        issues = load_sources({language: source}, language)
        preview = operations.preview(issues, web.settings, None, language)
        found = operations.check(issues, web.settings)
    except MailerError as exc:
        return fragment("preview_error.html", error=str(exc))
    return fragment("live_preview.html", preview=preview, check=found)


@router.get("/issues/{issue_id}")
def issue_page(request: Request, issue_id: Id, user: Viewer, lang: str | None = None) -> Response:
    web = web_state(request)
    with session_scope(web.db) as s:
        issue = service.get_issue(s, issue_id)
        version = service.get_version(s, issue_id)
        history = service.versions(s, issue_id)
        lists = summarize_lists(s)
        counts = {ml.slug: operations.recipient_count(s, ml.slug) for ml in lists}
    issues = service.issue_set(version)
    language = issues.for_language(lang).language
    previews = {
        code: operations.preview(issues, web.settings, None, code)
        for code in sorted(issues.variants)
    }
    found = operations.check(issues, web.settings)
    return page(
        request,
        "issue.html",
        user,
        issue.subject,
        issue=issue,
        version=version,
        history=history,
        language=language,
        previews=previews,
        check=found,
        lists=lists,
        counts=counts,
        default_list=issues.default.list_slug or "",
        timezone=web.settings.timezone,
    )


@router.get("/issues/{issue_id}/message.html")
def message_html(
    request: Request, issue_id: Id, user: Viewer, lang: str | None = None, v: After = None
) -> Response:
    web = web_state(request)
    with session_scope(web.db) as s:
        issues = service.issue_set(service.get_version(s, issue_id, v))
    preview = operations.preview(issues, web.settings, None, lang)
    return HTMLResponse(preview.html, headers=SANDBOX)


@router.post("/issues/{issue_id}/test")
def test_send(
    request: Request, issue_id: Id, user: Editor, to: Text = "", lang: Text = ""
) -> Response:
    web = web_state(request)
    with session_scope(web.db) as s:
        issues = service.issue_set(service.get_version(s, issue_id))
    message = operations.test_send(
        issues, web.settings, to or user.email, web.outbox.send, lang or None
    )
    with session_scope(web.db) as s:
        audit.record(s, actor(user, request), "issue.test_send", issue_id, to=message.envelope_to)
    return RedirectResponse(
        f"/admin/issues/{issue_id}?lang={lang}&notice=test-sent",
        status_code=303,
    )
