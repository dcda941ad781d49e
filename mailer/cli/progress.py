"""Progress bars: shown on a terminal, silent when output is piped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mailer.campaigns.report import Report
from mailer.cli.context import App


@contextmanager
def byte_progress(app: App, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yields ``update(bytes_done)``; a no-op when stderr is not a terminal."""
    if not app.interactive:
        yield lambda _done: None
        return
    columns = (
        TextColumn("{task.description}", markup=False),  # a file name, not markup
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=app.err, transient=False) as progress:
        task = progress.add_task(label, total=total or None)
        yield lambda done: progress.update(task, completed=done)


@contextmanager
def send_progress(app: App) -> Iterator[Callable[[Report], None]]:
    """Yields ``show(report)``: a bar of final rows with sent/failed/deferred, rate, ETA."""
    if not app.interactive:
        yield lambda _report: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=app.err) as progress:
        task = progress.add_task("Sending", total=None, detail="")

        def show(r: Report) -> None:
            c = r.counts
            done = c["sent"] + c["failed"] + c["skipped"]
            progress.update(
                task,
                total=r.recipients or None,
                completed=done,
                detail=f"sent {c['sent']} · failed {c['failed']} · deferred {c['deferred']}"
                f" · {r.rate:.0f}/s",
            )

        yield show
