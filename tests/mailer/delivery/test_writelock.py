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


def test_a_lock_file_that_cannot_be_opened_costs_speed_not_the_delivery(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # The turn only saves time (SQLite's own locking keeps writes correct), so
    # a lock file we may not open must not stop every delivery write: before,
    # each claim and outcome raised (here: a directory where the file would be;
    # in life: a file left by a run as root, mode 0600).
    import shutil

    from mailer.db import make_engine
    from mailer.delivery.engine import DeliveryEngine
    from mailer.transport.memory import MemoryTransport
    from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate

    path = tmp_path / "blocked.db"
    shutil.copy(sqlite_template, path)
    (tmp_path / "blocked.db.writers").mkdir()
    db = make_engine(f"sqlite:///{path}")
    try:
        emails = populate(db, 20)
        cid = new_campaign(db)
        transport = MemoryTransport()
        deliver = DeliveryEngine(
            db, SETTINGS, lambda: transport, envelope_from="b@example.org", workers=3
        )
        assert deliver.run(cid, threading.Event()) == "finished"
        assert sorted(m.recipient for m in transport.sent) == sorted(emails)
        assert {r.status for r in ledger(db, cid)} == {"sent"}
    finally:
        db.dispose()


def test_the_lock_file_belongs_to_the_databases_owner(tmp_path: Path) -> None:
    # A run as root (an admin's `sudo mailer campaigns resume`) must not leave
    # a root-owned 0600 lock file the service's own user cannot open; SQLite
    # does the same for its -wal and -shm files.
    import os

    db = tmp_path / "owned.db"
    db.write_bytes(b"")
    if os.geteuid() == 0:
        os.chown(db, 65534, 65534)
    with write_turn(db)():
        pass
    lock = tmp_path / "owned.db.writers"
    assert (lock.stat().st_uid, lock.stat().st_gid) == (db.stat().st_uid, db.stat().st_gid)
