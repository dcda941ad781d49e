import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine, func, select

from mailer.campaigns import service
from mailer.campaigns.models import SchedulerJob
from mailer.db import session_scope
from mailer.delivery.engine import DeliveryEngine
from mailer.scheduler.runner import Runner, schedule_campaign
from mailer.transport.memory import MemoryTransport
from subscribers.models import utcnow
from tests.mailer.helpers import EXAMPLE
from tests.mailer.sending import SETTINGS, ledger, new_campaign, populate
from tests.smtp_server import SmtpServer, free_port
from tests.waiting import wait_for


def runner_for(engine: Engine, transport: MemoryTransport, **settings: object) -> Runner:
    s = dataclasses.replace(SETTINGS, **settings)  # type: ignore[arg-type]
    deliver = DeliveryEngine(engine, s, lambda: transport, envelope_from="b@example.org")
    return Runner(engine, s, deliver, sweep_seconds=0.2, preflight=False)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return bool(json.load(r)["database"] == "ok")
    except OSError:
        return False


def status_of(engine: Engine, cid: int) -> str:
    with session_scope(engine) as s:
        return service.get_campaign(s, cid).status


def test_campaign_scheduled_a_second_ahead_starts_on_time(engine: Engine) -> None:
    populate(engine, 5)
    transport = MemoryTransport()
    runner = runner_for(engine, transport)
    runner.start()
    try:
        when = utcnow() + timedelta(seconds=1)
        cid = new_campaign(engine, start=False, when=when)
        schedule_campaign(engine, SETTINGS, cid, when)
        assert wait_for(lambda: status_of(engine, cid) == "finished")
    finally:
        runner.stop()
    with session_scope(engine) as s:
        c = service.get_campaign(s, cid)
        started = c.started_at
    assert started is not None and when <= started < when + timedelta(seconds=2)
    assert len(transport.sent) == 5


def test_start_job_is_kept_in_the_database(engine: Engine) -> None:
    populate(engine, 1)
    when = utcnow() + timedelta(days=1)
    cid = new_campaign(engine, start=False, when=when)
    schedule_campaign(engine, SETTINGS, cid, when)
    with session_scope(engine) as s:
        job = s.get(SchedulerJob, f"campaign-{cid}")
        assert job is not None and abs(job.next_run_time - when.timestamp()) < 1  # type: ignore[operator]
        assert s.scalar(select(func.count()).select_from(SchedulerJob)) == 1


def test_missed_beyond_grace_waits_and_within_grace_goes_late(engine: Engine) -> None:
    populate(engine, 3)
    missed = new_campaign(engine, start=False, when=utcnow() - timedelta(hours=2))
    late = new_campaign(engine, start=False, when=utcnow() - timedelta(minutes=10), force=True)
    transport = MemoryTransport()
    runner = runner_for(engine, transport, send_grace_minutes=60)
    runner.start()
    try:
        assert wait_for(lambda: status_of(engine, late) == "finished")
        assert status_of(engine, missed) == "missed"
        assert ledger(engine, missed) == []
        with session_scope(engine) as s:
            service.resume(s, missed)
        assert wait_for(lambda: status_of(engine, missed) == "finished")
    finally:
        runner.stop()
    assert Counter(m.recipient for m in transport.sent) == {
        f"u{i}@example.org": 2 for i in range(3)
    }


def test_run_resumes_a_sending_campaign_on_start(engine: Engine) -> None:
    populate(engine, 4)
    cid = new_campaign(engine)  # started, never delivered: as if the process had died
    transport = MemoryTransport()
    runner = runner_for(engine, transport)
    runner.start()
    try:
        assert wait_for(lambda: status_of(engine, cid) == "finished")
    finally:
        runner.stop()
    assert len(transport.sent) == 4


def test_sigterm_stops_mailer_run_cleanly(db_url: str, engine: Engine) -> None:
    populate(engine, 30)
    with SmtpServer(delay=0.1) as server:
        web_port = free_port()
        env = {
            **os.environ,
            "MAILER_DATABASE_URL": db_url,
            "MAILER_SMTP_HOST": "127.0.0.1",
            "MAILER_SMTP_PORT": str(server.port),
            "MAILER_SECRET_KEY": "k",
            "MAILER_WORKERS": "2",
            "MAILER_WEB_PORT": str(web_port),
        }
        subprocess.run(
            [sys.executable, "-m", "mailer", "send", str(EXAMPLE), "--list", "lmec-news", "--now"],
            env=env,
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailer", "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert wait_for(lambda: len(server.handler.messages) >= 4, timeout=30)
        assert wait_for(lambda: healthy(web_port), timeout=30)  # the web app runs beside
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        received = len(server.handler.messages)
    assert proc.returncode == 0, err.decode()
    assert b"Stopping" in err
    rows = ledger(engine, 1)
    counts = Counter(r.status for r in rows)
    assert counts["sending"] == 0 and not any(r.in_doubt for r in rows)
    assert counts["sent"] == received < 30


def test_mailer_run_does_not_log_every_sweep(db_url: str, engine: Engine) -> None:
    populate(engine, 1)  # a migrated database
    env = {**os.environ, "MAILER_DATABASE_URL": db_url, "MAILER_SECRET_KEY": "k"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailer", "run", "--no-web"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    seen = b""
    while b"mailer run:" not in seen and not seen.endswith(b"\n\n"):
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    time.sleep(2.5)  # the sweep (every second) has run at least twice
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    err = seen + err
    assert proc.returncode == 0, err.decode()
    assert b"mailer run: delivering via" in err and b"Stopping" in err
    assert b"Running job" not in err and b"executed successfully" not in err, err.decode()
    assert b"Context impl" not in err and b"setup plugin" not in err, err.decode()


def test_a_paused_campaign_does_not_start_at_its_time(engine: Engine) -> None:
    populate(engine, 3)
    when = utcnow() + timedelta(seconds=1)
    cid = new_campaign(engine, start=False, when=when)
    schedule_campaign(engine, SETTINGS, cid, when)
    with session_scope(engine) as s:
        service.pause(s, cid)
    transport = MemoryTransport()
    runner = runner_for(engine, transport)
    runner.start()
    try:
        # Its start job fires and the sweep runs several times: it stays paused.
        assert not wait_for(lambda: status_of(engine, cid) != "paused", timeout=2.5)
        assert transport.sent == []
        with session_scope(engine) as s:
            service.resume(s, cid)  # after its time: it starts now
        assert wait_for(lambda: status_of(engine, cid) == "finished")
    finally:
        runner.stop()
    assert len(transport.sent) == 3
