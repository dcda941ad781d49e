"""What a client can send a real server (uvicorn, as `mailer web` runs it):
spoofed X-Forwarded-For, huge bodies, a burst of the same address, odd names."""

import dataclasses
import email
import email.policy
import select
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlalchemy import select as sql_select

from mailer.db import session_scope
from mailer.message import OutgoingMessage
from mailer.outbox import Outbox
from mailer.web.server import WebServer
from subscribers.lists import create_list
from subscribers.models import Subscriber, Subscription
from tests.mailer.web.conftest import SETTINGS
from tests.smtp_server import free_port
from tests.waiting import wait_for


@pytest.fixture
def serve(engine: Engine) -> Iterator[object]:
    """Start the app under uvicorn with these settings; yields a starter."""
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter", double_opt_in=True)
    servers: list[WebServer] = []

    def start(**overrides: object) -> tuple[str, WebServer]:
        settings = dataclasses.replace(SETTINGS, web_port=free_port(), **overrides)  # type: ignore[arg-type]
        server = WebServer(settings, engine)
        server.start()
        assert wait_for(lambda: server.server.started)
        servers.append(server)
        return f"http://127.0.0.1:{settings.web_port}", server

    yield start
    for server in servers:
        server.stop()


def _spoofed(base: str) -> list[int]:
    with httpx.Client(base_url=base) as c:
        return [
            c.post(
                "/api/lists/lmec-news/subscribe",
                json={"email": f"p{i}@example.org"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(12)
        ]


def test_x_forwarded_for_is_ignored_unless_from_a_trusted_proxy(serve) -> None:  # type: ignore[no-untyped-def]
    base, _ = serve()
    assert _spoofed(base) == [202] * 10 + [429] * 2  # one client, whatever it claims
    trusting, _ = serve(trusted_proxies="10.0.0.0/8, 127.0.0.1")
    assert _spoofed(trusting) == [202] * 12  # behind our own proxy: each client counted


def _send_huge(base: str, chunked: bool) -> tuple[bytes, int]:
    """Send a 10 MB JSON body while watching for an answer; (answer, bytes sent)."""
    host, port = base.removeprefix("http://").split(":")
    total = 10 * 1024 * 1024
    head = f"POST /api/lists/lmec-news/subscribe HTTP/1.1\r\nHost: {host}\r\n"
    head += "Content-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    piece = b'{"email": "' + b"a" * (64 * 1024 - 11)
    sent = 0
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode())
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0.01)
                if readable:
                    break
                data = piece if not chunked else b"%x\r\n%s\r\n" % (len(piece), piece)
                sock.sendall(data)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(10)
        answer = sock.recv(4096)
    return answer, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_10mb_body_is_refused_early_with_memory_flat(serve, chunked: bool) -> None:  # type: ignore[no-untyped-def]
    base, _ = serve()
    tracemalloc.start()
    try:
        answer, sent = _send_huge(base, chunked)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert sent < 10 * 1024 * 1024 // 4  # answered long before the client was done
    assert peak < 3 * 1024 * 1024, peak  # the server never held the body


def test_bodies_under_the_limit_still_work(serve) -> None:  # type: ignore[no-untyped-def]
    base, _ = serve()
    with httpx.Client(base_url=base) as c:
        padded = {"email": "ok@example.org", "pad": "x" * 60_000}
        assert c.post("/api/lists/lmec-news/subscribe", json=padded).status_code == 202
        big = {"email": "ok@example.org", "pad": "x" * 70_000}
        r = c.post("/api/lists/lmec-news/subscribe", json=big)
        assert r.status_code == 413 and "64 KB" in r.json()["detail"]
        form = c.post(
            "/lists/lmec-news/subscribe", data={"email": "x@example.org", "n": "y" * 70_000}
        )
        assert form.status_code == 413


def test_twenty_subscribes_of_one_new_address_at_once(serve, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    base, server = serve()
    server.app.state.web.per_email.limit = 100  # the burst must reach the database
    server.app.state.web.per_client.limit = 100
    barrier = threading.Barrier(20)

    def post(_: int) -> int:
        with httpx.Client(base_url=base, timeout=60) as c:
            barrier.wait()
            return c.post(
                "/api/lists/lmec-news/subscribe", json={"email": "race@example.org"}
            ).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(post, range(20)))
    assert codes == [202] * 20
    sent: list[OutgoingMessage] = []
    outboxes = [Outbox(engine, SETTINGS, sent.append) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:  # two workers (say, two processes) at once
        list(pool.map(lambda o: o.deliver_due(), outboxes))
    while sum(o.deliver_due() for o in outboxes):
        pass
    with session_scope(engine) as s:
        assert s.scalar(sql_select(func.count()).select_from(Subscriber)) == 1
        assert s.scalar(sql_select(func.count()).select_from(Subscription)) == 1
    assert [m.envelope_to for m in sent] == ["race@example.org"]


ODD_NAMES = [".", "bbb@[", "Eve <a@evil.example>, Mallory", '"', "x\\", "a" * 150 + ", b <c@d>"]


def test_odd_names_never_break_a_request_or_the_confirmation(serve, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    base, server = serve()
    server.app.state.web.per_client.limit = 100
    with httpx.Client(base_url=base) as c:
        for i, name in enumerate(ODD_NAMES):
            r = c.post(
                "/api/lists/lmec-news/subscribe",
                json={"email": f"odd{i}@example.org", "name": name},
            )
            assert r.status_code == 202, (name, r.text)
        assert c.post("/api/lists/lmec-news/subscribe", json={"email": "bbb@["}).status_code == 422
        assert c.post("/api/lists/lmec-news/subscribe", json={"email": "."}).status_code == 422
    sent: list[OutgoingMessage] = []
    Outbox(engine, SETTINGS, sent.append).deliver_due()
    assert len(sent) == len(ODD_NAMES)
    for message in sent:
        to = email.message_from_bytes(message.data, policy=email.policy.default)["To"]
        assert [a.addr_spec for a in to.addresses] == [message.envelope_to]  # one recipient
    eve = next(m for m in sent if m.envelope_to == "odd2@example.org")
    to = email.message_from_bytes(eve.data, policy=email.policy.default)["To"]
    assert to.addresses[0].display_name == "Eve <a@evil.example>, Mallory"


def test_staff_uploads_may_be_larger_but_only_with_staff_credentials() -> None:
    """A CSV import over 64 KB reaches the console's route (which checks the
    session itself); the same body without a session cookie is refused early."""
    from mailer.web.bodylimit import MAX_BODY, STAFF_UPLOAD, _limit

    def scope(path: str, *headers: tuple[bytes, bytes]) -> dict[str, object]:
        return {"type": "http", "path": path, "headers": list(headers)}

    cookie = (b"cookie", b"mailer_session=abc")
    bearer = (b"authorization", b"Bearer mlr_x")
    assert _limit(scope("/admin/lists/news/import", cookie), MAX_BODY) == STAFF_UPLOAD
    assert _limit(scope("/api/v1/lists/news/import", bearer), MAX_BODY) == STAFF_UPLOAD
    assert _limit(scope("/admin/lists/news/import"), MAX_BODY) == MAX_BODY
    assert _limit(scope("/api/lists/news/subscribe", cookie, bearer), MAX_BODY) == MAX_BODY
    assert _limit(scope("/admin/login", cookie), MAX_BODY) == MAX_BODY
