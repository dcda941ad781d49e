"""Sending speed through the whole pipeline, against the raw pipe, in one run.

A fast local SMTP sink (Postfix's smtp-sink when installed, else an aiosmtpd
sink that discards, which is much slower) receives:
  * raw pipe: N copies of one prebuilt message of the example issue's size,
    written over the same number of plain sockets with SMTP PIPELINING (the
    envelope in one write), with no rendering or DB;
  * pipeline: the example issue personalized for N subscribers of a SQLite
    list, through the ledger, the delivery engine and SMTP — without DKIM,
    then with RSA-2048 DKIM;
and, in child processes, the peak RSS of the pipeline at two list sizes.

    python benchmarks/send_bench.py [--recipients 20000] [--rss 20000 200000]
        [--postgres postgresql://postgres@127.0.0.1/postgres]

With --postgres, the pipeline runs a second time on a fresh PostgreSQL
database made on that server (and dropped afterwards): each outcome is a
commit there too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailer.campaigns.service import create_campaign, start_campaign  # noqa: E402
from mailer.content import load_issue_set  # noqa: E402
from mailer.db import make_engine, session_scope, upgrade  # noqa: E402
from mailer.delivery.engine import smtp_engine  # noqa: E402
from mailer.delivery.processes import run_everywhere  # noqa: E402
from mailer.devserver import free_port  # noqa: E402
from mailer.settings import Settings  # noqa: E402
from mailer.transport.smtp import SmtpConfig, SmtpConnection  # noqa: E402
from subscribers.importer import import_csv  # noqa: E402
from subscribers.lists import create_list  # noqa: E402
from subscribers.models import utcnow  # noqa: E402

EXAMPLE = ROOT / "examples/issues/lmec-2021-issue-7.md"
CONNECTIONS = 4


class Sink:
    """smtp-sink if available (``-u postfix`` lets it run as root), else aiosmtpd."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.controller = None
        self.kind = "smtp-sink" if shutil.which("smtp-sink") else "aiosmtpd"

    def __enter__(self) -> Sink:
        if self.kind == "smtp-sink":
            self.proc = subprocess.Popen(
                ["smtp-sink", "-u", "postfix", f"127.0.0.1:{self.port}", "1000"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        else:
            from aiosmtpd.controller import Controller

            class Discard:
                async def handle_DATA(self, *_args: object) -> str:
                    return "250 OK"

            self.controller = Controller(Discard(), hostname="127.0.0.1", port=self.port)
            self.controller.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                c = SmtpConnection(SmtpConfig("127.0.0.1", self.port, timeout=2))
                c.send("a@example.org", "b@example.org", b"Subject: ping\r\n\r\nping\r\n")
                c.close()
                return self
            except Exception:  # not up yet
                time.sleep(0.1)
        raise SystemExit("the SMTP sink did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
        if self.controller is not None:
            self.controller.stop()


PROCESSES = os.cpu_count() or 1


def settings_for(
    db: Path, port: int, dkim_key: Path | None = None, url: str | None = None
) -> Settings:
    s = dataclasses.replace(
        Settings(),
        database_url=url or f"sqlite:///{db}",
        smtp_host="127.0.0.1",
        smtp_port=port,
        secret_key="bench",
        from_address="LMEC <news@example.org>",
        base_url="https://news.example.org",
        # The raw pipe's connection count in all: split over the processes.
        workers=max(1, CONNECTIONS // PROCESSES),
        processes=PROCESSES,
        messages_per_connection=100_000,
    )
    if dkim_key is not None:
        s = dataclasses.replace(
            s, dkim_selector="bench", dkim_domain="example.org", dkim_key_file=str(dkim_key)
        )
    return s


def prepare_db(db: Path, n: int, url: str | None = None) -> None:
    csv_path = db.with_suffix(".csv")
    csv_path.write_text(
        "email,name,country\n"
        + "".join(f"reader.{i}@example.org,Reader {i},LA\n" for i in range(n)),
        encoding="utf-8",
    )
    engine = make_engine(url or f"sqlite:///{db}")
    upgrade(engine)
    with session_scope(engine) as s:
        create_list(s, "bench", title="LMEC Newsletter")
    with session_scope(engine) as s:
        import_csv(s, csv_path, "bench", confirmed=True)
    engine.dispose()


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server at ``server_url``, dropped afterwards."""
    name = f"mailer_bench_{os.getpid()}"
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def pipeline(db: Path, settings: Settings) -> tuple[int, float]:
    """Schedule and deliver the example issue to the whole list; (sent, seconds)."""
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        c = create_campaign(s, load_issue_set(EXAMPLE), "bench", utcnow(), force=True)
        cid = c.id
    start = time.perf_counter()
    with session_scope(engine) as s:
        from mailer.campaigns.models import Campaign

        campaign = s.get(Campaign, cid)
        assert campaign is not None
        n = start_campaign(s, campaign)
    status = run_everywhere(smtp_engine(engine, settings), settings, cid, threading.Event())
    elapsed = time.perf_counter() - start
    assert status == "finished", status
    engine.dispose()
    return n, elapsed


def _reply(stream: BinaryIO) -> int:
    """Read one (possibly multi-line) SMTP reply; its code."""
    while True:
        line = stream.readline()
        if not line:
            raise ConnectionError("the sink hung up")
        if line[3:4] != b"-":
            return int(line[:3])


def raw_pipe(port: int, message: bytes, n: int) -> float:
    """The wire's speed: prebuilt bytes over plain sockets, the envelope pipelined.

    Deliberately not our transport, so it stays the same yardstick whatever
    the transport does: per message one write of MAIL, RCPT and DATA
    (RFC 2920), three replies, then the data and its reply.
    """
    per = [n // CONNECTIONS + (1 if i < n % CONNECTIONS else 0) for i in range(CONNECTIONS)]
    payload = message.replace(b"\r\n.", b"\r\n..") + b".\r\n"

    def write(count: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            stream = sock.makefile("rb")
            _reply(stream)
            sock.sendall(b"EHLO bench.example.org\r\n")
            _reply(stream)
            for i in range(count):
                sock.sendall(
                    b"MAIL FROM:<news@example.org>\r\n"
                    b"RCPT TO:<reader.%d@example.org>\r\nDATA\r\n" % i
                )
                codes = (_reply(stream), _reply(stream), _reply(stream))
                assert codes == (250, 250, 354), codes
                sock.sendall(payload)
                assert _reply(stream) == 250
            sock.sendall(b"QUIT\r\n")
            _reply(stream)

    threads = [threading.Thread(target=write, args=(c,)) for c in per]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def sample_message(settings: Settings) -> bytes:
    from mailer.compose import SAMPLE, compose
    from subscribers.models import MailingList

    ml = MailingList(id=1, slug="bench", title="LMEC Newsletter", description="")
    return compose(load_issue_set(EXAMPLE), settings, ml, "1").factory(None).build(SAMPLE).data


def child_rss(n: int, workdir: Path) -> None:
    db = workdir / f"rss-{n}.db"
    prepare_db(db, n)
    with Sink() as sink:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sent, seconds = pipeline(db, settings_for(db, sink.port))
        # The helper processes have been waited for; the sink not yet.
        helpers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "n": sent,
                "seconds": seconds,
                "rss_mib": peak / 1024,
                "helper_rss_mib": helpers / 1024,
                "rss_before_mib": base / 1024,
            }
        )
    )


def main() -> None:
    global PROCESSES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--rss", type=int, nargs="*", default=[20_000, 200_000])
    parser.add_argument("--postgres", help="Also run the pipeline on this PostgreSQL server.")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="MAILER_PROCESSES"
    )
    parser.add_argument("--child-rss", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    PROCESSES = args.processes
    if args.child_rss:
        child_rss(args.child_rss, args.workdir)
        return
    n = args.recipients
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file = work / "dkim.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        db = work / "bench.db"
        prepare_db(db, n)
        with Sink() as sink:
            plain = settings_for(db, sink.port)
            message = sample_message(plain)
            raw_s = raw_pipe(sink.port, message, n)
            sent, plain_s = pipeline(db, plain)
            sent_dkim, dkim_s = pipeline(db, settings_for(db, sink.port, key_file))
            pg_rate = None
            if args.postgres:
                with postgres_database(args.postgres) as url:
                    prepare_db(db, n, url)
                    sent_pg, pg_s = pipeline(db, settings_for(db, sink.port, url=url))
                    pg_rate = sent_pg / pg_s
        raw_rate, plain_rate, dkim_rate = n / raw_s, sent / plain_s, sent_dkim / dkim_s
        print(
            f"sink: {sink.kind}; {CONNECTIONS} connections; {PROCESSES} processes;"
            f" message {len(message) / 1024:.1f} KB;"
            f" {n:,} recipients"
        )
        print(f"{'':<34} {'msg/s':>8} {'x raw pipe':>11}")
        print(f"{'raw pipe (prebuilt bytes)':<34} {raw_rate:>8,.0f} {1:>11.2f}")
        print(f"{'pipeline, no DKIM':<34} {plain_rate:>8,.0f} {plain_rate / raw_rate:>11.2f}")
        print(f"{'pipeline, RSA-2048 DKIM':<34} {dkim_rate:>8,.0f} {dkim_rate / raw_rate:>11.2f}")
        if pg_rate is not None:
            label = "pipeline, no DKIM, PostgreSQL"
            print(f"{label:<34} {pg_rate:>8,.0f} {pg_rate / raw_rate:>11.2f}")
        print("Aim: >= 0.5 of the raw pipe without DKIM, >= 0.4 with RSA DKIM.")
        for size in args.rss:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child-rss",
                    str(size),
                    "--workdir",
                    str(work),
                    "--processes",
                    str(PROCESSES),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"peak RSS, pipeline to {size:>7,} recipients: {r['rss_mib']:.0f} MiB, "
                f"helper process {r['helper_rss_mib']:.0f} MiB ({r['n'] / r['seconds']:,.0f} msg/s)"
            )


if __name__ == "__main__":
    main()
