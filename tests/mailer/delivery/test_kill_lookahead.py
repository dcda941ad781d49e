"""kill -9 of every delivery process at once, with the next envelope riding on each data write.

Like test_kill.py, but the relay offers PIPELINING (so the lookahead and
its 354-pending envelopes are on the wire when the kill lands) and the whole
process group dies, helper processes included (MAILER_PROCESSES=2), in the
middle of group commits. Only what was on the wire may be in doubt: at most
one message per connection per kill; nobody is lost.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.mailer.helpers import EXAMPLE
from tests.smtp_server import SmtpServer

RECIPIENTS = 800
KILLS = 3
WORKERS = 3
PROCESSES = 2


def mailer(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes the helpers too
    )


def test_sigkill_of_all_delivery_processes_with_lookahead(db_url: str, tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    people = tmp_path / "people.csv"
    people.write_text("email\n" + "".join(f"r{i}@example.org\n" for i in range(RECIPIENTS)))
    with SmtpServer(pipelining=True) as server:
        env = {
            **os.environ,
            "MAILER_DATABASE_URL": db_url,
            "MAILER_SMTP_HOST": "127.0.0.1",
            "MAILER_SMTP_PORT": str(server.port),
            "MAILER_SECRET_KEY": "k",
            "MAILER_FROM": "LMEC <news@example.org>",
            "MAILER_WORKERS": str(WORKERS),
            "MAILER_PROCESSES": str(PROCESSES),
            "MAILER_RETRY_BASE_SECONDS": "0.1",
        }
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
        thresholds = sorted(rnd.sample(range(50, RECIPIENTS - 100), KILLS))
        for threshold in thresholds:
            proc = mailer(*command, env=env)
            seen, quiet_since = len(server.handler.messages), time.monotonic()
            while (now_seen := len(server.handler.messages)) < threshold and proc.poll() is None:
                if now_seen != seen:
                    seen, quiet_since = now_seen, time.monotonic()
                assert time.monotonic() - quiet_since < 120, f"seed {seed}: sending stalled"
                time.sleep(0.005 + rnd.random() * 0.01)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait()
            time.sleep(0.3)  # the helpers die with the group; let the kernel reap them
            command = ["campaigns", "resume", "1", "--wait", "--json"]
        final = mailer(*command, env=env)
        out, err = final.communicate(timeout=600)
        assert final.returncode == 0, err.decode()
        assert json.loads(out)["sent"] == RECIPIENTS
        received = Counter(m.rcpt for m in server.handler.messages)
        status = subprocess.run(
            [sys.executable, "-m", "mailer", "campaigns", "status", "1", "--json"],
            env=env,
            capture_output=True,
            check=True,
        )
    report = json.loads(status.stdout)
    assert kills >= 1, f"seed {seed}: no run was killed mid-send"
    connections = WORKERS * PROCESSES
    assert report["in_doubt"] <= connections * kills, f"seed {seed}: {report['in_doubt']}"
    missing = [f"r{i}@example.org" for i in range(RECIPIENTS) if received[f"r{i}@example.org"] == 0]
    assert missing == [], f"seed {seed}: lost {len(missing)} recipients"
    duplicated = {rcpt: n for rcpt, n in received.items() if n > 1}
    assert sum(n - 1 for n in duplicated.values()) <= report["in_doubt"], f"seed {seed}"
    assert set(duplicated) <= set(report["in_doubt_recipients"]), f"seed {seed}"
    assert report["sent"] == RECIPIENTS and report["status"] == "finished"
