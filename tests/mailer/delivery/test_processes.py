"""MAILER_PROCESSES: a campaign delivered by two processes; kill -9 of one loses nobody.

A real `mailer send --now --wait` runs as a subprocess against a real SMTP
server on loopback, with MAILER_PROCESSES=2: the command's own process and
one helper claim from the same ledger.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mailer.delivery import processes
from mailer.delivery.engine import DeliveryEngine
from mailer.settings import Settings
from mailer.transport.memory import MemoryTransport
from tests.mailer.helpers import EXAMPLE
from tests.mailer.sending import SETTINGS, new_campaign, populate
from tests.smtp_server import SmtpServer

WORKERS = 2


def setup(db_url: str, port: int, people: Path, n: int) -> dict[str, str]:
    people.write_text("email\n" + "".join(f"r{i}@example.org\n" for i in range(n)))
    env = {
        **os.environ,
        "MAILER_DATABASE_URL": db_url,
        "MAILER_SMTP_HOST": "127.0.0.1",
        "MAILER_SMTP_PORT": str(port),
        "MAILER_SECRET_KEY": "k",
        "MAILER_FROM": "LMEC <news@example.org>",
        "MAILER_WORKERS": str(WORKERS),
        "MAILER_PROCESSES": "2",
        "MAILER_RETRY_BASE_SECONDS": "0.1",
    }
    for args in (
        ["lists", "create", "lmec-news"],
        ["subscribers", "import", str(people), "--list", "lmec-news", "--confirmed"],
    ):
        done = subprocess.run([sys.executable, "-m", "mailer", *args], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr
    return env


SEND = ["send", str(EXAMPLE), "--list", "lmec-news", "--now", "--wait", "--json"]


def helpers_of(pid: int) -> list[int]:
    """The spawned delivery helpers among ``pid``'s children."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def status_report(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "mailer", "campaigns", "status", "1", "--json"],
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


def test_two_processes_deliver_everyone_exactly_once(db_url: str, tmp_path: Path) -> None:
    n = 1500
    with SmtpServer() as server:
        env = setup(db_url, server.port, tmp_path / "people.csv", n)
        done = subprocess.run(
            [sys.executable, "-m", "mailer", *SEND], env=env, capture_output=True, timeout=600
        )
        assert done.returncode == 0, done.stderr.decode()
        received = Counter(m.rcpt for m in server.handler.messages)
        connections = server.handler.connections
    assert received == Counter({f"r{i}@example.org": 1 for i in range(n)})
    assert json.loads(done.stdout)["sent"] == n
    # Each process opens its own connections: more than one process's worth went out.
    assert connections > WORKERS


def test_sigkill_of_a_helper_loses_nobody(db_url: str, tmp_path: Path) -> None:
    n = 1500
    with SmtpServer() as server:
        env = setup(db_url, server.port, tmp_path / "people.csv", n)
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailer", *SEND],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        killed = None
        deadline = time.monotonic() + 300
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            helpers = helpers_of(proc.pid)
            # Kill the helper once it is surely sending: well into the campaign.
            if helpers and len(server.handler.messages) > n // 4:
                killed = helpers[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.01)
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()
        received = Counter(m.rcpt for m in server.handler.messages)
        report = status_report(env)
    assert killed is not None, "the helper was never seen sending"
    missing = [f"r{i}@example.org" for i in range(n) if received[f"r{i}@example.org"] == 0]
    assert missing == []
    in_doubt = int(report["in_doubt"])  # type: ignore[call-overload]
    # Only what the dead helper had on the wire: one message per connection.
    assert in_doubt <= WORKERS
    assert sum(c - 1 for c in received.values()) <= in_doubt
    assert report["sent"] == n and report["status"] == "finished"
    assert json.loads(out)["sent"] == n


def test_a_rate_limit_keeps_delivery_in_one_process(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The token bucket is per process: two processes would send at twice the limit.
    def no_helpers(*_args: object) -> list[object]:
        raise AssertionError("helpers started despite a rate limit")

    monkeypatch.setattr(processes, "start_helpers", no_helpers)
    populate(engine, 3)
    cid = new_campaign(engine)
    settings = dataclasses.replace(SETTINGS, rate_limit=1000.0, processes=2)
    transport = MemoryTransport()
    delivery = DeliveryEngine(engine, settings, lambda: transport, envelope_from="b@example.org")
    assert processes.run_everywhere(delivery, settings, cid, threading.Event()) == "finished"
    assert len(transport.sent) == 3


def two_processes(engine: Engine, server: SmtpServer, **kw: Any) -> Settings:
    """Settings for this database and server: two processes, one connection each."""
    return dataclasses.replace(
        SETTINGS,
        database_url=str(engine.url.render_as_string(hide_password=False)),
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_security="none",
        processes=2,
        workers=1,
        **kw,
    )


def test_the_callers_metrics_count_what_the_helpers_sent(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /metrics is served by the caller (`mailer run`): outcomes recorded in a
    # helper process must reach its counters too, not only its own.
    from mailer.delivery.engine import smtp_engine
    from mailer.metrics import MESSAGES, CountingStore

    n = 300
    populate(engine, n)
    cid = new_campaign(engine)
    with SmtpServer() as server:
        settings = two_processes(engine, server)
        delivery = smtp_engine(engine, settings)
        delivery.store = CountingStore(engine)
        before = MESSAGES.labels("sent", str(cid))._value.get()  # a global of this process
        assert processes.run_everywhere(delivery, settings, cid, threading.Event()) == "finished"
        assert len(server.handler.messages) == n
        helpers_sent = server.handler.connections > 1  # the helper opened its own
    assert helpers_sent
    counted = MESSAGES.labels("sent", str(cid))._value.get() - before
    assert counted == n


def test_a_helper_reports_tallies_not_a_message_per_outcome(engine: Engine) -> None:
    # One report per commit woke the caller once a message: outcomes are
    # tallied and sent at most every REPORT_SECONDS, and the rest on flush.
    from multiprocessing import Pipe

    from mailer.campaigns.models import DeliveryStatus
    from mailer.delivery.outcomes import Outcome
    from mailer.delivery.store import DeliveryStore

    reader, writer = Pipe(duplex=False)
    store = processes.ReportingStore(engine, DeliveryStore(engine).policy, writer)
    began = time.monotonic()
    for i in range(1000):
        store.recorded(7, [Outcome(i, DeliveryStatus.SENT, 250, "ok")])
        store.recorded(8, [Outcome(i, DeliveryStatus.FAILED, 550, "no")] if i % 10 == 0 else [])
    store.flush()
    periods = (time.monotonic() - began) / processes.REPORT_SECONDS
    store.flush()  # nothing new: nothing sent
    reports = []
    while reader.poll():
        reports.append(reader.recv())
    totals: dict[tuple[int, str, int | None], int] = {}
    for cid, tallies in reports:
        for status, code, count in tallies:
            totals[(cid, status, code)] = totals.get((cid, status, code), 0) + count
    assert totals == {(7, "sent", 250): 1000, (8, "failed", 550): 100}
    # Each campaign once on flush, plus once per half second that went by.
    assert len(reports) <= 2 * (1 + int(periods) + 1) < 1100


def test_a_stopped_helper_reports_its_last_outcomes_before_it_ends(engine: Engine) -> None:
    # Outcomes are tallied and sent every REPORT_SECONDS: a helper stopped
    # (SIGTERM) while sending flushes what it counted since, so the caller's
    # counters end equal to the ledger.
    from sqlalchemy import func, select

    from mailer.campaigns.models import Delivery
    from mailer.delivery.engine import smtp_engine
    from mailer.metrics import MESSAGES, CountingStore

    n = 1000
    populate(engine, n)
    cid = new_campaign(engine)
    with SmtpServer(delay=0.004) as server:
        # One connection a process: a second client port is the helper's.
        by_peer: Counter[object] = Counter()
        original = server.handler.handle_DATA

        async def handle_DATA(srv: Any, session: Any, envelope: Any) -> str:
            by_peer[session.peer] += 1
            return await original(srv, session, envelope)

        server.handler.handle_DATA = handle_DATA  # type: ignore[method-assign]
        settings = two_processes(engine, server, messages_per_connection=10 * n)
        delivery = smtp_engine(engine, settings)
        delivery.store = CountingStore(engine)
        before = MESSAGES.labels("sent", str(cid))._value.get()
        stop = threading.Event()

        def stop_while_the_helper_sends() -> None:
            deadline = time.monotonic() + 60
            while len(by_peer) < 2 or min(by_peer.values()) < 20:
                assert time.monotonic() < deadline, "the helper never sent"
                time.sleep(0.005)
            stop.set()

        stopper = threading.Thread(target=stop_while_the_helper_sends)
        stopper.start()
        processes.run_everywhere(delivery, settings, cid, stop)
        stopper.join()
    with engine.connect() as conn:
        sent = conn.scalar(
            select(func.count()).where(Delivery.campaign_id == cid, Delivery.status == "sent")
        )
    assert len(by_peer) == 2 and sent is not None and sent < n  # stopped midway, both sending
    assert MESSAGES.labels("sent", str(cid))._value.get() - before == sent
