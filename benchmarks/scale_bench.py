"""The same campaign delivered by one and by two Celery workers: rates, ratio, where time goes.

Real parts: a scratch PostgreSQL database, a redis-server of its own (broker,
rate limit, heartbeats), Postfix's smtp-sink (aiosmtpd if absent), `mailer run
--no-web` enqueueing the chunks and `mailer worker` processes. For each
fleet size the example issue goes to every subscriber; the rate is sent
messages over the ledger's own clock (campaign start → finish). Where the
time goes: the wait before the first message (dispatch and worker pick-up),
the sending span, the tail (last message → finished), and the CPU seconds of
each process against what the machine's cores could give in that time.

    python benchmarks/scale_bench.py [--recipients 5000] [--chunk 250] [--threads 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import redis  # noqa: E402
from send_bench import Sink  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from mailer.campaigns.models import Campaign, Delivery  # noqa: E402
from mailer.db import make_engine, upgrade  # noqa: E402
from mailer.devserver import free_port  # noqa: E402
from mailer.workers import coordination  # noqa: E402

EXAMPLE = ROOT / "examples/issues/lmec-2021-issue-7.md"
PG = os.environ.get(
    "MAILER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def mailer(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "mailer", *args], env=env, check=True, capture_output=True
    )


def run_fleet(
    env: dict[str, str], workers: int, campaign: int, db_url: str, logs: Path
) -> dict[str, float]:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, args in [("run", ["run", "--no-web"])] + [
        (f"worker{i}", ["worker"]) for i in range(workers)
    ]:
        out = (logs / f"{name}-{workers}.log").open("wb")
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "mailer", *args], env=env, stdout=out, stderr=out
        )
    client = coordination.connect(env["MAILER_BROKER_URL"])
    while len(coordination.live_workers(client)) < workers:
        time.sleep(0.1)
    cpu_before = {n: cpu_seconds(p.pid) for n, p in procs.items()}
    mailer(env, "send", str(EXAMPLE), "--list", "bench", "--now", "--force")
    db = make_engine(db_url)
    while True:
        with db.connect() as conn:
            status = conn.scalar(select(Campaign.status).where(Campaign.id == campaign))
        if status == "finished":
            break
        time.sleep(0.2)
    cpu = {n: cpu_seconds(p.pid) - cpu_before[n] for n, p in procs.items()}
    for p in procs.values():
        p.terminate()
    for p in procs.values():
        p.wait(60)
    with db.connect() as conn:
        started, finished = conn.execute(
            select(Campaign.started_at, Campaign.finished_at).where(Campaign.id == campaign)
        ).one()
        first, last, sent = conn.execute(
            select(
                func.min(Delivery.sent_at), func.max(Delivery.sent_at), func.count(Delivery.sent_at)
            ).where(Delivery.campaign_id == campaign)
        ).one()
    db.dispose()
    wall = (finished - started).total_seconds()
    return {
        "sent": sent,
        "wall": wall,
        "rate": sent / wall,
        "before_first": (first - started).total_seconds(),
        "sending": (last - first).total_seconds(),
        "tail": (finished - last).total_seconds(),
        **{f"cpu {n}": s for n, s in cpu.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--threads", type=int, default=4, help="MAILER_WORKERS per worker")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        sys.exit("scale_bench needs redis-server")
    name = f"mailer_scale_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    db_url = make_url(PG).set(database=name).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    port = free_port()
    redis_proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                redis.Redis(port=port).ping()
                break
            except redis.RedisError:
                time.sleep(0.1)
        engine = make_engine(db_url)
        upgrade(engine)
        engine.dispose()
        with Sink() as sink:
            env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
            env.update(
                MAILER_DATABASE_URL=db_url,
                MAILER_BROKER_URL=f"redis://127.0.0.1:{port}/0",
                MAILER_SMTP_HOST="127.0.0.1",
                MAILER_SMTP_PORT=str(sink.port),
                MAILER_SECRET_KEY="bench-secret",
                MAILER_FROM="LMEC <news@example.org>",
                MAILER_WORKERS=str(args.threads),
                MAILER_CHUNK_SIZE=str(args.chunk),
                MAILER_WORKER_METRICS_PORT="0",
                MAILER_LOG_LEVEL="WARNING",
            )
            people = tmp / "people.csv"
            people.write_text(
                "email\n" + "".join(f"s{i}@example.org\n" for i in range(args.recipients))
            )
            mailer(env, "lists", "create", "bench")
            mailer(env, "subscribers", "import", str(people), "--list", "bench", "--confirmed")
            print(
                f"{args.recipients} recipients, chunks of {args.chunk}, {args.threads} connections "
                f"per worker, {os.cpu_count()} cores, sink: {sink.kind}"
            )
            results = {n: run_fleet(env, n, n, db_url, tmp) for n in (1, 2)}
    finally:
        redis_proc.terminate()
        redis_proc.wait(30)
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    cores = os.cpu_count() or 1
    for n, r in results.items():
        cpu = {k[4:]: v for k, v in r.items() if k.startswith("cpu ")}
        busy = sum(cpu.values())
        print(
            f"{n} worker(s): {r['sent']:.0f} sent in {r['wall']:.2f} s = {r['rate']:.0f} msg/s; "
            f"before first message {r['before_first']:.2f} s, sending {r['sending']:.2f} s, "
            f"tail {r['tail']:.2f} s"
        )
        print(
            "   CPU s: "
            + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
            + f"; mailer processes used {busy / (r['wall'] * cores):.0%} of {cores} cores"
        )
    print(f"ratio two/one: {results[2]['rate'] / results[1]['rate']:.2f}")


if __name__ == "__main__":
    main()
