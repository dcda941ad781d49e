"""`mailer subscribers import` and `export`: CSV in and out, streamed both ways."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import click

from mailer.cli.context import App, app, json_text, shown
from mailer.cli.errors import cannot_write
from mailer.cli.invite import invite_hint
from mailer.cli.progress import byte_progress
from subscribers.exporter import export_csv
from subscribers.importer import ImportReport, import_csv
from subscribers.lists import get_list
from subscribers.models import SubscriptionStatus


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--list", "list_slug", required=True, help="The list to import into.")
@click.option("--confirmed", is_flag=True, help="Import as confirmed (they already opted in).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_context
def import_(ctx: click.Context, file: Path, list_slug: str, confirmed: bool, as_json: bool) -> None:
    """Import subscribers from a CSV file with a header row (`-` reads standard input).

    Columns: email (required), name, language; any other column becomes an
    attribute. Bad rows are skipped and reported by line; the rest is
    imported. Importing the same file again changes nothing.

    \b
    Example:
      mailer subscribers import people.csv --list lmec-news --json
      some-export-tool | mailer subscribers import - --list lmec-news
    """
    a: App = app(ctx)
    stdin = str(file) == "-"
    size = file.stat().st_size if not stdin and file.is_file() else 0
    label = "standard input" if stdin else shown(file.name)
    source = sys.stdin.buffer if stdin else file
    with a.session() as s, byte_progress(a, size, f"Importing {label}") as progress:
        report = import_csv(s, source, list_slug, confirmed=confirmed, progress=progress)
        unconfirmed_list = get_list(s, list_slug).double_opt_in
    try:
        _print_report(report, as_json)
    finally:
        report.rejected.close()
    if not as_json and report.added and not confirmed and unconfirmed_list:
        click.echo(invite_hint(list_slug, report.added))


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def _print_report(report: ImportReport, as_json: bool) -> None:
    """Streams the rejected rows: a file of millions of bad rows prints in flat memory."""
    write = sys.stdout.write
    if as_json:
        head = json_text(report.counts())
        write(head[: head.rindex("}")].rstrip() + ',\n  "rejected": [')
        for i, r in enumerate(report.rejected):
            write(("\n    " if i == 0 else ",\n    ") + json_text(r.as_dict(), indent=None))
        write("\n  ]\n}\n" if report.rejected_count else "]\n}\n")
        return
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.rejected_count} rejected."
        + (
            f" ({_plural(report.duplicates, 'duplicate line')} merged into earlier ones)"
            if report.duplicates
            else ""
        )
    )
    for r in report.rejected:
        write(shown(f"  line {r.line}: {r.email or '(no email)'}: {r.reason}") + "\n")


@click.command("export")
@click.option("--list", "list_slug", help="Only this list's subscribers.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in SubscriptionStatus]),
    help="Only subscriptions in this status.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
@click.option(
    "--excel",
    is_flag=True,
    help="Start with a UTF-8 byte order mark, so Excel reads non-Latin names correctly.",
)
@click.pass_context
def export(
    ctx: click.Context,
    list_slug: str | None,
    status: str | None,
    output: Path | None,
    excel: bool,
) -> None:
    """Export subscribers as CSV (UTF-8, the import's columns, formula-safe).

    The import reads a byte order mark, so an --excel file imports back as is.

    \b
    Example:
      mailer subscribers export --list lmec-news -o lmec-news.csv
      mailer subscribers export --list lmec-news --excel -o for-excel.csv
    """
    encoding = "utf-8-sig" if excel else "utf-8"
    with app(ctx).session() as s:
        if output is None:
            sys.stdout.flush()
            out = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="")
            try:
                export_csv(s, out, list_slug, status)
                out.flush()
            finally:
                out.detach()  # leave standard output open
            return
        # Write beside the target and rename, so a failure never leaves half a file.
        try:
            fd, tmp = tempfile.mkstemp(dir=output.parent or Path("."), suffix=".csv.part")
        except OSError as exc:
            raise cannot_write(output, exc) from None
        try:
            with os.fdopen(fd, "w", encoding=encoding, newline="") as out:
                count = export_csv(s, out, list_slug, status)
            os.replace(tmp, output)
        except BaseException:
            os.unlink(tmp)
            raise
    click.echo(f"Exported {count} subscribers to {output}.", err=True)
