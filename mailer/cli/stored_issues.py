"""`mailer issues import FILE` and `mailer issues export ID`: the console's stored issues."""

from __future__ import annotations

from pathlib import Path

import click

from mailer.accounts import audit
from mailer.accounts.audit import CLI
from mailer.cli.context import app, print_json
from mailer.content import load_issue_set
from mailer.issuestore import service as store


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the stored issue as JSON.")
@click.pass_context
def import_issue(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Store FILE and its language variants as a new version of the issue with its slug.

    \b
    Example:
      mailer issues import examples/issues/lmec-2021-issue-7.md
    """
    issues = load_issue_set(file)
    with app(ctx).session() as s:
        row = None
        for issue in issues.variants.values():
            row = store.save_variant(s, issue.path.name, issue.source, "cli", note=f"from {file}")
        assert row is not None
        audit.record(s, CLI, "issue.import", row.issue_id, version=row.version)
        found = {"id": row.issue_id, "slug": issues.slug, "version": row.version}
    if as_json:
        print_json(found)
    else:
        click.echo(f"Stored issue {found['id']} ({found['slug']}), version {found['version']}.")


@click.command("export")
@click.argument("issue_id", type=int)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to write the files into.",
)
@click.option("--version", type=int, help="An earlier version (default: the latest).")
@click.pass_context
def export_issue(ctx: click.Context, issue_id: int, output: Path, version: int | None) -> None:
    """Write a stored issue's files (every language variant) into a folder.

    \b
    Example:
      mailer issues export 3 -o issues/
    """
    with app(ctx).session() as s:
        written = store.export(s, issue_id, output, version)
    for path in written:
        click.echo(f"Wrote {path}")


COMMANDS = [import_issue, export_issue]
