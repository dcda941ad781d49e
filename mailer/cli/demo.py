"""`mailer demo`: the main job on embedded defaults, in a workspace of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from mailer.cli.context import app
from mailer.db import make_engine, session_scope, upgrade
from mailer.resources import examples_dir
from subscribers.exporter import export_csv
from subscribers.importer import import_csv
from subscribers.lists import create_list, summarize_list

LIST = "lmec-news"


@click.command()
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-workspace"),
    show_default=True,
    help="Folder for the demo's database and output (made anew each run).",
)
@click.pass_context
def demo(ctx: click.Context, workspace: Path) -> None:
    """Run the whole job on the example data, with nothing to set up.

    Creates a SQLite database in the workspace, a list, and imports the
    example subscribers, then exports them again.

    \b
    Example:
      mailer demo --workspace /tmp/mailer-demo
    """
    out = app(ctx).out
    if workspace.exists():
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True)
    db = workspace / "mailer.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    out.print(f"[bold]1.[/] Created the database {db}")
    with session_scope(engine) as s:
        create_list(s, LIST, title="LMEC Newsletter", double_opt_in=True)
    out.print(f"[bold]2.[/] Created the list {LIST!r} (double opt-in)")
    source = examples_dir() / "subscribers.csv"
    with session_scope(engine) as s:
        report = import_csv(s, source, LIST, confirmed=True)
    out.print(
        f"[bold]3.[/] Imported {source.name}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
    )
    with session_scope(engine) as s:
        counts = summarize_list(s, LIST).counts
        exported = workspace / "export.csv"
        with exported.open("w", encoding="utf-8", newline="") as f:
            n = export_csv(s, f, LIST)
    out.print(f"    {LIST}: {counts['confirmed']} confirmed subscribers")
    out.print(f"[bold]4.[/] Exported {n} subscribers to {exported}")
    engine.dispose()


COMMANDS = [demo]
