"""Fixtures for the Celery tests: a private Redis, a PostgreSQL database, a fleet.

Each test gets its own redis-server on a free port (so restarting it hurts no
one else's tests) and its own database; the fleet is real processes: one
`mailer run --no-web` enqueueing chunks and N `mailer worker`s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI, PG_URL, _admin_engine
from tests.smtp_server import free_port
from tests.waiting import wait_for


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        assert wait_for(lambda: _pings(client), 15), "redis-server did not start"

    def shutdown(self) -> None:
        """Like `redis-cli shutdown`: the server process ends, its data with it."""
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], check=False)
        assert self.proc is not None
        self.proc.wait(15)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.terminate()
        server.proc.wait(15)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh migrated PostgreSQL database: workers in several processes need a server."""
    template = request.getfixturevalue("pg_template")
    name = f"mailer_w_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


class Fleet:
    """`mailer run` plus workers, all as real processes sharing one environment."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def mailer(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "mailer", *args], env=self.env, capture_output=True, timeout=600
        )
        assert done.returncode == 0, done.stderr.decode()
        return done

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailer", *args], env=self.env, stdout=log, stderr=log
        )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def status(self, campaign: int = 1) -> dict[str, object]:
        return dict(json.loads(self.mailer("campaigns", "status", str(campaign), "--json").stdout))

    def status_or_none(self, campaign: int = 1) -> dict[str, object] | None:
        """The campaign's status, or None while it does not exist yet."""
        done = subprocess.run(
            [sys.executable, "-m", "mailer", "campaigns", "status", str(campaign), "--json"],
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        return dict(json.loads(done.stdout)) if done.returncode == 0 else None

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def fleet_env(pg_url: str, redis_server: RedisServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(
        MAILER_DATABASE_URL=pg_url,
        MAILER_BROKER_URL=redis_server.url,
        MAILER_SMTP_HOST="127.0.0.1",
        MAILER_SECRET_KEY="k" * 16,
        MAILER_FROM="LMEC <news@example.org>",
        MAILER_WORKERS="2",
        MAILER_CHUNK_SIZE="150",
        MAILER_RETRY_BASE_SECONDS="0.2",
        MAILER_WORKER_METRICS_PORT="0",
        MAILER_LOG_FORMAT="json",
    )
    return env


@pytest.fixture
def fleet(fleet_env: dict[str, str], tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(fleet_env, tmp_path)
    yield f
    f.stop()
