"""Logs: one line per event, JSON on request, never a secret or a link token."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailer.logs import configure_logging
from mailer.settings import Settings

SECRETS = dataclasses.replace(
    Settings(),
    smtp_password="relay-pa55word",
    secret_key="hmac-secret-key-123",
    broker_url="redis://:brokerpass@10.0.0.5:6379/0",
    log_format="json",
)


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging(SECRETS, stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_without_secrets_or_tokens(capture: io.StringIO) -> None:
    log = logging.getLogger("mailer.test")
    log.info("connecting to %s", SECRETS.broker_url)
    log.warning("login with %s failed\nsecond line", SECRETS.smtp_password)
    log.info("GET /unsubscribe/eyJzIjoxMjN9.abcDEF123_- 200; POST /confirm/Zm9vYmFyYmF6cXV4/resend")
    log.info("postgresql://mailer:dbpass@db/mailer and ?token=abcdef123456&x=1")
    try:
        raise RuntimeError(f"key {SECRETS.secret_key} rejected")
    except RuntimeError:
        log.exception("failed")
    out = capture.getvalue()
    events = lines(capture)
    assert len(events) == 5, "one line per event, even with newlines inside"
    for secret in (
        "relay-pa55word",
        "hmac-secret-key-123",
        "brokerpass",
        "dbpass",
        "eyJzIjoxMjN9",
        "Zm9vYmFyYmF6cXV4",
        "abcdef123456",
    ):
        assert secret not in out
    assert events[0]["message"] == "connecting to ********"  # a secret setting, whole
    assert "postgresql://mailer:********@db/mailer" in events[3]["message"]
    assert events[1]["level"] == "WARNING" and events[1]["logger"] == "mailer.test"
    assert "/unsubscribe/********" in events[2]["message"]
    assert "RuntimeError" in events[4]["exception"]


def test_the_sweep_is_debug_and_alembic_chatter_is_gone(capture: io.StringIO) -> None:
    logging.getLogger("apscheduler.executors.default").info(
        'Running job "sweep (trigger: interval[0:00:01], next run at: 2026-11-29 02:00:01 UTC)"'
    )
    logging.getLogger("alembic.runtime.migration").info("Context impl PostgresqlImpl.")
    logging.getLogger("alembic.runtime.migration").info("Will assume transactional DDL.")
    logging.getLogger("alembic.runtime.plugins").info(
        "setup plugin %s", "alembic.autogenerate.schemas"
    )
    logging.getLogger("alembic.runtime.migration").info("Running upgrade 0004 -> 0005, x")
    logging.getLogger("apscheduler.executors.default").info('Running job "start campaign 3"')
    messages = [e["message"] for e in lines(capture)]
    assert messages == ["Running upgrade 0004 -> 0005, x", 'Running job "start campaign 3"']


def test_text_format_is_one_line_per_event() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging(dataclasses.replace(SECRETS, log_format="text"), stream)
        logging.getLogger("mailer.x").info("password is %s", SECRETS.smtp_password)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert stream.getvalue().count("\n") == 1
    assert "relay-pa55word" not in stream.getvalue() and "********" in stream.getvalue()


def test_mailer_run_keeps_the_sweep_and_alembic_out_of_its_log(db_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(MAILER_DATABASE_URL=db_url, MAILER_LOG_FORMAT="json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailer", "run", "--no-web"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    early = []
    while not (line := proc.stderr.readline()).startswith("mailer run:"):  # up and running
        assert line, "".join(early)
        early.append(line)
    time.sleep(3.5)  # three sweeps or more
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    rest = "".join(early) + rest
    events = [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    assert events, rest
    assert not [e for e in events if "sweep (trigger" in e["message"]], "the sweep logged at INFO"
    assert not [e for e in events if e["logger"].startswith("alembic")]
