"""Progress bars: shown on a terminal, silent when output is piped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mailer.cli.context import App


@contextmanager
def byte_progress(app: App, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yields ``update(bytes_done)``; a no-op when stderr is not a terminal."""
    if not app.interactive:
        yield lambda _done: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=app.err, transient=False) as progress:
        task = progress.add_task(label, total=total or None)
        yield lambda done: progress.update(task, completed=done)
