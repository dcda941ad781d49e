"""CSV import speed and memory, against plain sqlite3.executemany in the same run.

For each size (100,000 and 1,000,000 rows by default) it writes a CSV of
realistic rows, then in fresh child processes (so peak RSS is per run):
  * baseline: csv.reader + sqlite3.executemany into a table of the same shape
    and indexes as `subscribers`, with no validation, no merging, no list;
  * mailer: `import_csv` into a migrated SQLite database, one list.
It prints rows/s, peak RSS and mailer's speed as a ratio of the baseline's.

With --bad-mb it also imports files of that many megabytes of bad rows (wrong
field counts, control characters, quotes never closed, 1 MB cells) and
prints the peak RSS of each as a ratio of the smallest: rejected rows are
kept on disk, so the ratio should stay near 1.

    python benchmarks/import_bench.py [--rows 100000 1000000] [--bad-mb 20 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LANGS = ["en", "zh", "th", "vi", "km", "lo", "my", ""]
BASELINE_DDL = """
CREATE TABLE subscribers (
  id INTEGER PRIMARY KEY, email VARCHAR(320) NOT NULL, email_normalized VARCHAR(320) NOT NULL,
  email_hash VARCHAR(64) NOT NULL, name VARCHAR(200) NOT NULL, language VARCHAR(35),
  attributes JSON NOT NULL,
  consent_source VARCHAR(200), consent_at DATETIME, consent_ip VARCHAR(45),
  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  CONSTRAINT uq_subscribers_email_normalized UNIQUE (email_normalized))
"""


def make_csv(path: Path, rows: int) -> None:
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["email", "name", "language", "country", "organization"])
        for i in range(rows):
            w.writerow(
                [
                    f"reader.{i}@mail{i % 997}.example.org",
                    f"Reader {i}",
                    rnd.choice(LANGS),
                    rnd.choice(["CN", "KH", "LA", "MM", "TH", "VN"]),
                    f"Organization {i % 211}",
                ]
            )


def run_baseline(csv_path: Path, db: Path) -> tuple[int, float]:
    start = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(BASELINE_DDL)
    now = "2026-01-01 00:00:00.000000"
    sql = (
        "INSERT INTO subscribers (email, email_normalized, email_hash, name, language,"
        " attributes, consent_source, consent_at, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)"
    )
    n = 0
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        batch = []
        for email, name, lang, country, org in reader:
            attrs = json.dumps({"country": country, "organization": org})
            key = email.lower()
            digest = hashlib.sha256(key.encode()).hexdigest()
            batch.append((email, key, digest, name, lang or None, attrs, "bench", now, now, now))
            if len(batch) == 10_000:
                conn.executemany(sql, batch)
                n += len(batch)
                batch = []
        conn.executemany(sql, batch)
        n += len(batch)
    conn.commit()
    conn.close()
    return n, time.perf_counter() - start


BAD_ROWS = (
    "x@example.org,one,two,three,four,five,six\n"  # too many fields
    "esc@example.org,Eve\x1b[2J,en,CN,Org\n"  # a control character in the name
    '"open@example.org,never closed\n'  # a quote that never closes
    "not-an-address,Nobody,en,CN,Org\n"
)


def make_bad_csv(path: Path, megabytes: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("email,name,language,country,organization\n")
        block = BAD_ROWS * 1000
        for i in range(megabytes * 1_000_000 // len(block)):
            f.write(block)
            if i % 50 == 0:
                f.write("huge@example.org,Huge," + "x" * 1_000_000 + "\n")


def run_mailer_bad(csv_path: Path, db: Path) -> tuple[int, float]:
    """Like run_mailer, for a file of bad rows: the count is of rows rejected."""
    from mailer.db import make_engine, session_scope, upgrade
    from subscribers.importer import import_csv
    from subscribers.lists import create_list

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with session_scope(engine) as s:
        create_list(s, "bench", double_opt_in=False)
    start = time.perf_counter()
    with session_scope(engine) as s:
        report = import_csv(s, csv_path, "bench")
    return report.rejected_count, time.perf_counter() - start


def run_mailer(csv_path: Path, db: Path) -> tuple[int, float]:
    """Times the import alone: schema and list are set up before the clock starts."""
    from mailer.db import make_engine, session_scope, upgrade
    from subscribers.importer import import_csv
    from subscribers.lists import create_list

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with session_scope(engine) as s:
        create_list(s, "bench", double_opt_in=False)
    start = time.perf_counter()
    with session_scope(engine) as s:
        report = import_csv(s, csv_path, "bench")
    elapsed = time.perf_counter() - start
    if report.rejected or report.added == 0:
        raise SystemExit(f"unexpected import result: {report.as_dict()}")
    return report.added, elapsed


def child(mode: str, csv_path: str, db: str) -> None:
    """Runs one measurement and prints JSON: rows, seconds, peak RSS in MiB."""
    run = {"baseline": run_baseline, "mailer": run_mailer, "bad": run_mailer_bad}[mode]
    rows, seconds = run(Path(csv_path), Path(db))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "rss_mib": rss}))


def measure(mode: str, csv_path: Path, workdir: Path) -> dict[str, float]:
    db = workdir / f"{mode}-{csv_path.stem}.db"
    for p in workdir.glob(db.name + "*"):
        p.unlink()
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(csv_path), str(db)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--bad-mb", type=int, nargs="*", default=[], help="Sizes of bad files.")
    parser.add_argument("--keep", type=Path, help="Keep generated files in this folder.")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(
            f"{'rows':>10} {'baseline rows/s':>16} {'mailer rows/s':>14} {'ratio':>6}"
            f" {'baseline RSS':>13} {'mailer RSS':>11}"
        )
        for rows in args.rows:
            csv_path = workdir / f"subscribers-{rows}.csv"
            make_csv(csv_path, rows)
            base = measure("baseline", csv_path, workdir)
            ours = measure("mailer", csv_path, workdir)
            b_rate = base["rows"] / base["seconds"]
            m_rate = ours["rows"] / ours["seconds"]
            print(
                f"{rows:>10,} {b_rate:>16,.0f} {m_rate:>14,.0f} {m_rate / b_rate:>6.2f}"
                f" {base['rss_mib']:>10.0f} MiB {ours['rss_mib']:>7.0f} MiB"
            )
        print(
            "mailer's time covers the whole import (checking, merging, subscribing to a list);"
            " the baseline only inserts. Aim: >= 50,000 rows/s, RSS < 150 MiB at every size."
        )
        if args.bad_mb:
            bad_files(sorted(args.bad_mb), workdir)


def bad_files(sizes: list[int], workdir: Path) -> None:
    print(f"\n{'bad MB':>8} {'rejected':>12} {'rejected/s':>11} {'peak RSS':>9} {'RSS ratio':>10}")
    first = None
    for megabytes in sizes:
        csv_path = workdir / f"bad-{megabytes}.csv"
        make_bad_csv(csv_path, megabytes)
        got = measure("bad", csv_path, workdir)
        csv_path.unlink()
        first = first or got["rss_mib"]
        print(
            f"{megabytes:>8} {got['rows']:>12,.0f} {got['rows'] / got['seconds']:>11,.0f}"
            f" {got['rss_mib']:>5.0f} MiB {got['rss_mib'] / first:>10.2f}"
        )
    print("Rejected rows are kept on disk: the RSS ratio should stay near 1 at every size.")


if __name__ == "__main__":
    main()
