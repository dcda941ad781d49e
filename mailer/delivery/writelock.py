"""The turn to write a SQLite database, taken by every delivery thread and process in line.

SQLite admits one writer at a time and makes the others sleep and poll
(busy_timeout: 1 ms, then 2, 5, 10 … between tries). With a commit per
group of messages in each process, two delivery processes polling each other
spent most of their time asleep in those steps: two processes sent fewer
messages than one. So the writers of the delivery engine queue here first,
on a lock of this process and then on an ``flock`` of a file beside the
database, which the kernel hands to the next waiter the moment it is
released. Other writers (the web app, the CLI) still meet SQLite's own
lock and wait as before; they are rare.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_TURNS: dict[str, WriteTurn] = {}
_GUARD = threading.Lock()


def write_turn(path: Path | None) -> WriteTurn:
    """The one WriteTurn of this process for the database file ``path`` (None: in memory)."""
    key = str(path or ":memory:")
    with _GUARD:
        if key not in _TURNS:
            _TURNS[key] = WriteTurn(path)
        return _TURNS[key]


class WriteTurn:
    """A context manager: this thread's turn to write the database at ``path``."""

    def __init__(self, path: Path | None) -> None:
        # An in-memory database lives in one process: the thread lock is enough.
        self.database = path
        self.lockfile = None if path is None else path.with_name(path.name + ".writers")
        self.lock = threading.Lock()
        self._fd: int | None = None
        self._fd_guard = threading.Lock()

    def _file(self) -> int | None:
        if self.lockfile is None:
            return None
        with self._fd_guard:
            if self._fd is None:
                self._fd = self._open(self.lockfile, self.database)
                if self._fd is None:
                    self.lockfile = None  # this process's threads still take turns
            return self._fd

    @staticmethod
    def _open(lockfile: Path, database: Path | None) -> int | None:
        """The lock file's descriptor; None when it cannot be had.

        The turn only saves time: SQLite's own locking keeps the writes
        correct without it. So a lock file we may not open (made by root,
        a read-only directory) costs speed, never the delivery.
        """
        # O_CLOEXEC: helper processes are spawned, not forked, but a
        # subprocess must not inherit (and so hold) our lock.
        try:
            fd = os.open(lockfile, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            try:  # flock needs no write access
                return os.open(lockfile, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                log.warning("delivery writers of other processes will not take turns: %s", exc)
                return None
        if os.geteuid() == 0 and database is not None:
            # As SQLite does for its -wal and -shm files: a run as root must
            # not leave a file that the database's owner cannot open.
            with contextlib.suppress(OSError):
                owner = database.stat()
                os.fchown(fd, owner.st_uid, owner.st_gid)
        return fd

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            fd = self._file()
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
