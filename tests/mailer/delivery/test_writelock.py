"""Delivery writers of every process take turns on a lock file beside the SQLite database."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from mailer.delivery.writelock import write_turn

HOLDER = """
import sys, time
from pathlib import Path
from mailer.delivery.writelock import write_turn
db, held, release = (Path(a) for a in sys.argv[1:4])
with write_turn(db)():
    held.write_text("yes")
    deadline = time.monotonic() + 30
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
"""


def test_another_process_holding_the_turn_keeps_us_out_until_it_lets_go(tmp_path: Path) -> None:
    db = tmp_path / "mailer.db"
    held, release = tmp_path / "held", tmp_path / "release"
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(held), str(release)])
    try:
        deadline = time.monotonic() + 30
        while not held.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert held.exists(), "the holder never took its turn"
        assert (tmp_path / "mailer.db.writers").exists()
        got = threading.Event()

        def take() -> None:
            with write_turn(db)():
                got.set()

        t = threading.Thread(target=take)
        t.start()
        assert not got.wait(0.5)  # still the other process's turn
        release.touch()
        assert got.wait(30)
        t.join(5)
    finally:
        release.touch()
        child.wait(30)
    assert child.returncode == 0


def test_threads_of_one_process_take_turns_too(tmp_path: Path) -> None:
    turn = write_turn(tmp_path / "x.db")
    inside: list[int] = []
    overlaps: list[int] = []

    def work(i: int) -> None:
        for _ in range(50):
            with turn():
                inside.append(i)
                if len(inside) > 1:
                    overlaps.append(i)
                inside.remove(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert overlaps == []


def test_an_in_memory_database_needs_no_file(tmp_path: Path) -> None:
    turn = write_turn(None)
    assert turn.lockfile is None
    with turn():
        pass
