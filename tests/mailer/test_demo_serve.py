"""`mailer demo --serve` end to end: a real process, its printed link, a real HTTP client."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailer.devserver import free_port

LINK = re.compile(r"(http://127\.0\.0\.1:(\d+)/admin/login-link/\S+)")
STARTUP = 180.0  # seconds: the demo sends its campaign first, on a shared machine


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.fixture
def demo(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """The demo running with --serve; always stopped (then killed if it hangs).

    On the port of the `taken_port` fixture when the test asks for it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    wanted = request.getfixturevalue("taken_port") if "taken_port" in request.fixturenames else 0
    workspace, port = str(tmp_path / "ws"), str(wanted or free_port())
    command = [sys.executable, "-m", "mailer", "demo", "--workspace", workspace]
    process = subprocess.Popen(
        [*command, "--serve", "--port", port],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:  # a thread, so waiting for a line can time out
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")  # end of output

    threading.Thread(target=read, daemon=True).start()
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _link(lines: queue.Queue[str], seen: list[str] | None = None) -> str:
    """The login link printed; the lines before it are added to ``seen``."""
    seen = [] if seen is None else seen
    while True:
        try:
            line = lines.get(timeout=STARTUP)
        except queue.Empty:
            pytest.fail(f"no login link within {STARTUP:.0f} s; output:\n{''.join(seen)}")
        if not line:
            pytest.fail(f"the demo ended without a login link:\n{''.join(seen)}")
        seen.append(line)
        found = LINK.search(line)
        if found:
            return found.group(1)


def test_demo_serve_prints_a_link_that_logs_in_to_the_console(
    demo: tuple[subprocess.Popen[str], queue.Queue[str]],
) -> None:
    process, lines = demo
    link = _link(lines)
    with httpx.Client(timeout=20.0) as client:
        form = client.get(link)
        assert form.status_code == 200, form.text
        assert form.headers["cache-control"] == "no-store"  # a page whose URL is a secret
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        r = client.post(link, data={"csrf": csrf.group(1)}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin/"
        assert "mailer_session" in client.cookies
        home = client.get(link.split("/admin/")[0] + "/admin/campaigns", follow_redirects=False)
        assert home.status_code == 200, home.text
        assert "editor@lmec.example.org" in home.text  # logged in as the demo editor
        assert (
            "<td>lmec-news</td>" in home.text and "status finished" in home.text
        )  # the demo sent it
    with httpx.Client(timeout=20.0) as other:  # the link was for one login only
        form = other.get(link)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        again = other.post(link, data={"csrf": csrf.group(1)}, follow_redirects=False)
        assert again.status_code == 404 and "mailer_session" not in other.cookies
    process.send_signal(signal.SIGINT)  # what Ctrl-C does
    assert process.wait(timeout=30) == 0


def test_demo_serve_on_a_taken_port_says_which_port_it_uses(
    taken_port: int, demo: tuple[subprocess.Popen[str], queue.Queue[str]]
) -> None:
    process, lines = demo
    said: list[str] = []
    link = _link(lines, said)
    found = LINK.search(link)
    assert found is not None and int(found.group(2)) != taken_port
    with httpx.Client(timeout=20.0) as client:
        assert client.get(link).status_code == 200  # the port printed is the one serving
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    notice = f"Port {taken_port} is taken, so the console uses port {found.group(2)}.\n"
    assert notice in said, "".join(said)
