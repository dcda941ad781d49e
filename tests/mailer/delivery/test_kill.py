"""kill -9 in the middle of a send loses nobody, and duplicates stay within "in doubt".

A real `mailer send --now --wait` runs as a subprocess against a real SMTP
server on loopback; it is killed with SIGKILL at random points (after a
random number of messages arrived), restarted with `campaigns resume --wait`,
and what the server received is counted per recipient. Each outcome is
committed before the next message on its connection, so a kill leaves at
most one message per connection in doubt.

Two ways: the sending command alone is killed (its helper process stops
when it sees its caller gone), against a relay without PIPELINING; and the
whole process group dies at once, helpers included (MAILER_PROCESSES=2),
against a relay with PIPELINING, so that the next envelope (the lookahead,
at 354 on the server) and group commits are in flight when the kill lands.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mailer.helpers import EXAMPLE
from tests.smtp_server import SmtpServer

KILLS = 3


@dataclass(frozen=True)
class Way:
    recipients: int
    workers: int
    processes: int | None  # None: the setting's default (one per core)
    pipelining: bool
    whole_group: bool  # kill the helper processes with the command
    connections: int  # the most messages one kill may leave on the wire


WAYS = [
    pytest.param(Way(1500, 4, None, False, False, 4), id="command"),
    pytest.param(Way(800, 3, 2, True, True, 6), id="whole-group-lookahead"),
]


def mailer(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, for the whole-group kill
    )


@pytest.mark.parametrize("way", WAYS)
def test_sigkill_mid_send_loses_nobody(way: Way, db_url: str, tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    n = way.recipients
    people = tmp_path / "people.csv"
    people.write_text("email\n" + "".join(f"r{i}@example.org\n" for i in range(n)))
    with SmtpServer(pipelining=way.pipelining) as server:
        env = {
            **os.environ,
            "MAILER_DATABASE_URL": db_url,
            "MAILER_SMTP_HOST": "127.0.0.1",
            "MAILER_SMTP_PORT": str(server.port),
            "MAILER_SECRET_KEY": "k",
            "MAILER_FROM": "LMEC <news@example.org>",
            "MAILER_WORKERS": str(way.workers),
            "MAILER_RETRY_BASE_SECONDS": "0.1",
        }
        if way.processes is not None:
            env["MAILER_PROCESSES"] = str(way.processes)
        for args in (
            ["lists", "create", "lmec-news"],
            ["subscribers", "import", str(people), "--list", "lmec-news", "--confirmed"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "mailer", *args], env=env, capture_output=True
            )
            assert done.returncode == 0, done.stderr
        command = ["send", str(EXAMPLE), "--list", "lmec-news", "--now", "--wait", "--json"]
        kills = 0
        thresholds = sorted(rnd.sample(range(50, n - 100), KILLS))
        for threshold in thresholds:
            proc = mailer(*command, env=env)
            # Stalled: nothing new arrived for two minutes (the machine may be slow).
            seen, quiet_since = len(server.handler.messages), time.monotonic()
            while (now_seen := len(server.handler.messages)) < threshold and proc.poll() is None:
                if now_seen != seen:
                    seen, quiet_since = now_seen, time.monotonic()
                assert time.monotonic() - quiet_since < 120, f"seed {seed}: sending stalled"
                time.sleep(0.005 + rnd.random() * 0.01)
            if proc.poll() is None:
                if way.whole_group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            if way.whole_group:
                time.sleep(0.3)  # the helpers die with the group; let the kernel reap them
            command = ["campaigns", "resume", "1", "--wait", "--json"]
        final = mailer(*command, env=env)
        out, err = final.communicate(timeout=600)
        assert final.returncode == 0, err.decode()
        received = Counter(m.rcpt for m in server.handler.messages)
        status = subprocess.run(
            [sys.executable, "-m", "mailer", "campaigns", "status", "1", "--json"],
            env=env,
            capture_output=True,
            check=True,
        )
    report = json.loads(status.stdout)
    assert kills >= 1, f"seed {seed}: no run was killed mid-send"
    # Only what was on the wire is in doubt: one message per connection per kill.
    limit = way.connections * kills
    assert report["in_doubt"] <= limit, f"seed {seed}: {report['in_doubt']} in doubt"
    missing = [f"r{i}@example.org" for i in range(n) if received[f"r{i}@example.org"] == 0]
    assert missing == [], f"seed {seed}: lost {len(missing)} recipients"
    duplicated = {rcpt: c for rcpt, c in received.items() if c > 1}
    assert sum(c - 1 for c in duplicated.values()) <= report["in_doubt"], f"seed {seed}"
    assert set(duplicated) <= set(report["in_doubt_recipients"]), f"seed {seed}"
    assert report["sent"] == n and report["status"] == "finished"
    assert json.loads(out)["sent"] == n
