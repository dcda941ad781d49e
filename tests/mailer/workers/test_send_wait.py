"""`mailer send --wait` with a broker: the workers deliver, the command watches to the end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.mailer.helpers import EXAMPLE
from tests.mailer.workers.conftest import Fleet
from tests.smtp_server import SmtpServer

SEND = [sys.executable, "-m", "mailer", "send", str(EXAMPLE), "--list", "lmec-news", "--now"]


def test_send_wait_enqueues_for_the_workers_and_returns_when_they_finish(
    fleet: Fleet, tmp_path: Path
) -> None:
    n = 300
    with SmtpServer() as smtp:
        fleet.env["MAILER_SMTP_PORT"] = str(smtp.port)
        people = tmp_path / "people.csv"
        people.write_text("email\n" + "".join(f"r{i}@example.org\n" for i in range(n)))
        fleet.mailer("lists", "create", "lmec-news")
        fleet.mailer("subscribers", "import", str(people), "--list", "lmec-news", "--confirmed")
        fleet.start("worker0", "worker", "--metrics-port", "0")
        done = subprocess.run(
            [*SEND, "--wait", "--json"],
            env={**fleet.env, "MAILER_PROCESSES": "1"},
            capture_output=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr.decode()
        received = Counter(m.rcpt for m in smtp.handler.messages)
    assert "Delivering on the Celery workers" in done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["status"] == "finished" and report["sent"] == n
    assert received == Counter({f"r{i}@example.org": 1 for i in range(n)})
    # The worker sent them, not the command: its log names the chunks it took.
    assert "rows taken" in fleet.log("worker0")


def test_send_wait_says_when_no_worker_runs_and_stops_watching_on_sigint(
    fleet: Fleet, tmp_path: Path
) -> None:
    (tmp_path / "people.csv").write_text("email\nr0@example.org\n")
    fleet.env["MAILER_SMTP_PORT"] = "9"  # nothing is sent: no worker runs
    fleet.mailer("lists", "create", "lmec-news")
    fleet.mailer(
        "subscribers", "import", str(tmp_path / "people.csv"), "--list", "lmec-news", "--confirmed"
    )
    proc = subprocess.Popen(
        [*SEND, "--wait"],
        env=fleet.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and fleet.status_or_none() is None:
            time.sleep(0.2)
        time.sleep(2)  # let it say so
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = err.decode()
    assert "No `mailer worker` is running yet" in text
    assert "Stopped watching; the workers go on" in text
    assert proc.returncode == 1  # not finished
    assert fleet.status()["status"] == "sending"
