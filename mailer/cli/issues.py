"""`mailer issues …`: render, test-send and check an issue before it goes out."""

from __future__ import annotations

import secrets
import sys
from email.utils import parseaddr
from pathlib import Path

import click

from mailer.cli.context import App, app, echo_notes, print_json
from mailer.cli.errors import cannot_write
from mailer.compose import SAMPLE, Composition, compose, list_for, recipient_of
from mailer.content import load_issue_set
from mailer.content.check import ERROR, check_footer, check_markup, check_size
from mailer.errors import ContentError
from mailer.message import OutgoingMessage, Recipient
from mailer.preview import write_previews
from mailer.transport.smtp import SmtpConnection, smtp_config
from subscribers.addresses import parse_address

FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@click.group("issues")
def group() -> None:
    """Newsletter issues: preview, test-send, check.

    \b
    Example:
      mailer issues render examples/issues/lmec-2021-issue-7.md -o preview.html
    """


def _compose(
    a: App, file: Path, list_slug: str | None, email: str | None, key: str, prefix: str = ""
) -> tuple[Composition, Recipient, str | None]:
    issues = load_issue_set(file)
    echo_notes(issues.notes)
    slug = list_slug or issues.default.list_slug
    needs_db = list_slug is not None or email is not None
    if needs_db:
        with a.session() as s:
            ml = list_for(s, slug)
            recipient, language = (SAMPLE, None) if email is None else recipient_of(s, email, ml)
            s.expunge_all()
    else:
        ml, recipient, language = list_for(None, None), SAMPLE, None
    return compose(issues, a.settings, ml, key, prefix), recipient, language


def _write(output: Path | None, data: bytes) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise cannot_write(output, exc) from None
        click.echo(f"Wrote {output} ({len(data):,} bytes).", err=True)


@group.command("render")
@FILE
@click.option("--list", "list_slug", help="Render for this list (default: a sample list).")
@click.option("--subscriber", "email", help="Render as this subscriber receives it.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text", "eml"]),
    default="html",
    show_default=True,
    help="The HTML part, the text part, or the whole message.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output).",
)
@click.pass_context
def render(
    ctx: click.Context,
    file: Path,
    list_slug: str | None,
    email: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Show exactly what a subscriber would receive.

    Without --subscriber a sample recipient is used; --list and --subscriber
    read the database. `--format eml` is the whole message, DKIM-signed when
    DKIM is configured.

    \b
    Example:
      mailer issues render examples/issues/lmec-2021-issue-7.md --format eml -o issue7.eml
    """
    comp, recipient, language = _compose(app(ctx), file, list_slug, email, "preview")
    factory = comp.factory(language)
    if fmt == "eml":
        _write(output, factory.build(recipient).data)
        return
    values = factory.values(recipient)
    variant = factory.variant
    text = variant.html.fill_html(values) if fmt == "html" else variant.text.fill(values)
    _write(output, text.encode("utf-8"))


@group.command("test")
@FILE
@click.option("--to", "to", required=True, help="Where to send the test message.")
@click.option("--list", "list_slug", help="Send as for this list (default: the issue's list).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def test(ctx: click.Context, file: Path, to: str, list_slug: str | None, as_json: bool) -> None:
    """Send one real message through the configured SMTP server, subject "[TEST] …".

    \b
    Example:
      mailer issues test examples/issues/lmec-2021-issue-7.md --to editor@example.org
    """
    a = app(ctx)
    address = parse_address(to)
    comp, _, _ = _compose(a, file, list_slug, None, f"test-{secrets.token_hex(6)}", "[TEST] ")
    message: OutgoingMessage = comp.factory(None).build(Recipient(0, address.given, SAMPLE.name))
    settings = a.settings
    connection = SmtpConnection(smtp_config(settings))
    try:
        result = connection.send(
            settings.bounce_address or _address_of(settings.from_address),
            message.envelope_to,
            message.data,
            message.smtputf8,
        )
    finally:
        connection.close()
    if as_json:
        print_json(
            {
                "to": address.given,
                "message_id": message.message_id,
                "code": result.code,
                "reply": result.reply,
            }
        )
    else:
        click.echo(
            f"Sent to {address.given} via {settings.smtp_host}:{settings.smtp_port}: "
            f"{result.code} {result.reply}"
        )


def _address_of(from_header: str) -> str:
    return parseaddr(from_header)[1]


@group.command("check")
@FILE
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def check(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Lint an issue: front matter, templates, links, scripts, images, footer, size.

    Exits 1 on an error; warnings (images without width, a footer without the
    organization or postal address) are shown but pass.

    \b
    Example:
      mailer issues check examples/issues/lmec-2021-issue-7.md
    """
    try:
        issues = load_issue_set(file)
    except ContentError as exc:
        if not as_json or not file.is_file():  # no file at all is an error, not a finding
            raise
        # A file that does not load is one problem, reported like the others.
        where = {"file": str(exc.path), "line": exc.line, "severity": ERROR}
        print_json({"ok": False, "problems": [{**where, "message": exc.message}], "sizes": {}})
        ctx.exit(1)
    echo_notes(issues.notes)
    settings = app(ctx).settings
    comp = compose(issues, settings, list_for(None, None), "check")
    problems, sizes = [], {}
    for language, issue in issues.variants.items():
        problems += check_markup(issue)
        factory = comp.factory(language)
        values = factory.values(SAMPLE)
        html_bytes = len(factory.variant.html.fill_html(values).encode("utf-8"))
        sizes[language] = {"html": html_bytes, "message": len(factory.build(SAMPLE).data)}
        problems += check_size(issue, html_bytes)
    problems += check_footer(settings.organization, settings.postal_address, "settings")
    errors = [p for p in problems if p.level == ERROR]
    warnings = [p for p in problems if p.level != ERROR]
    if as_json:
        print_json(
            {
                "ok": not errors,
                # Errors and warnings alike, each with file, line, severity, message.
                "problems": [p.as_dict() for p in problems],
                "sizes": sizes,
            }
        )
    else:
        for p in problems:
            click.echo(str(p))
        for language, size in sizes.items():
            click.echo(
                f"{language}: HTML {size['html'] / 1024:.1f} KB, "
                f"message {size['message'] / 1024:.1f} KB",
                err=True,
            )
    if errors:
        ctx.exit(1)
    if not as_json:
        found = f" ({len(warnings)} warning(s))" if warnings else ""
        click.echo(
            f"{file}: no problems found{found} ({len(issues.variants)} language variant(s))."
        )


@group.command("preview")
@FILE
@click.option("--list", "list_slug", help="Preview for this list (default: a sample list).")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the screenshots (made if missing).",
)
@click.option("--chromium", help="Chromium to use (default: chromium on PATH, or MAILER_CHROMIUM).")
@click.option("--json", "as_json", is_flag=True, help="Print the files written as JSON.")
@click.pass_context
def preview(
    ctx: click.Context,
    file: Path,
    list_slug: str | None,
    out: Path,
    chromium: str | None,
    as_json: bool,
) -> None:
    """Screenshots of the real message as an inbox shows it, and its text part.

    desktop.png (600 px), phone.png (375 px), dark.png (dark mode), text.txt
    and message.eml, taken with Chromium through Playwright
    (pip install "mailer[preview]").

    \b
    Example:
      mailer issues preview examples/issues/lmec-2021-issue-7.md -o previews/
    """
    comp, recipient, language = _compose(app(ctx), file, list_slug, None, "preview")
    data = comp.factory(language).build(recipient).data
    files = write_previews(data, out, chromium)
    if as_json:
        print_json({"files": [str(f) for f in files]})
    else:
        for f in files:
            click.echo(f"Wrote {f}")


COMMANDS = [group]
