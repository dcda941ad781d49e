"""The next envelope in the same write as this message's data: one round trip a message.

Against a real aiosmtpd server with PIPELINING. The engine announces the next
envelope; only the envelope goes early, never the next message's text.
"""

import threading

import pytest

from mailer.transport import PermanentFailure
from mailer.transport.smtp import SmtpConfig, SmtpConnection
from tests.smtp_server import SmtpServer


def message(i: int) -> bytes:
    return (
        f"From: a@example.org\r\nTo: r{i}@example.org\r\nSubject: {i}\r\n\r\nbody {i}\r\n".encode()
    )


def connect(server: SmtpServer, max_messages: int = 100) -> SmtpConnection:
    return SmtpConnection(
        SmtpConfig(host="127.0.0.1", port=server.port, timeout=5, max_messages=max_messages)
    )


def send_all(conn: SmtpConnection, recipients: list[str]) -> None:
    for i, rcpt in enumerate(recipients):
        if i + 1 < len(recipients):
            conn.announce("b@example.org", recipients[i + 1])
        assert conn.send("b@example.org", rcpt, message(i)).code == 250


def test_each_data_write_carries_the_next_envelope_and_every_message_arrives_whole(
    writes: list[bytes],
) -> None:
    rcpts = [f"r{i}@example.org" for i in range(4)]
    with SmtpServer(pipelining=True) as server:
        conn = connect(server)
        send_all(conn, rcpts)
        conn.close()
        got = server.handler.by_recipient()
        assert server.handler.connections == 1
    assert [got[r][0].data for r in rcpts] == [message(i) for i in range(4)]
    data_writes = [w for w in writes if b"body " in w]
    # Message 0's data ends with message 1's envelope, and so on; the last goes alone.
    for i, w in enumerate(data_writes[:-1]):
        assert w.endswith(
            b".\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<r%d@example.org>\r\nDATA\r\n" % (i + 1)
        )
        assert b"body %d" % (i + 1) not in w  # never the next message's text
    assert data_writes[-1].endswith(b"body 3\r\n.\r\n")
    # Only the first envelope needed a write (and a round trip) of its own.
    assert [w for w in writes if w.startswith(b"MAIL")] == [
        b"MAIL FROM:<b@example.org>\r\nRCPT TO:<r0@example.org>\r\nDATA\r\n"
    ]


def test_an_announced_message_not_sent_leaves_no_message_behind() -> None:
    # The server said 354 to the early DATA: the session cannot be reset, so
    # it goes, and the message actually sent next goes on a new one.
    with SmtpServer(pipelining=True) as server:
        conn = connect(server)
        conn.send("b@example.org", "r0@example.org", message(0))  # opens the session
        conn.announce("b@example.org", "skipped@example.org")
        assert conn.send("b@example.org", "r1@example.org", message(1)).code == 250
        assert conn.send("b@example.org", "other@example.org", message(2)).code == 250
        conn.close()
        assert [m.rcpt for m in server.handler.messages] == [
            "r0@example.org",
            "r1@example.org",
            "other@example.org",
        ]
        assert server.handler.connections == 2


def test_closing_after_an_announcement_delivers_nothing_more() -> None:
    with SmtpServer(pipelining=True) as server:
        conn = connect(server)
        conn.send("b@example.org", "r0@example.org", message(0))
        conn.announce("b@example.org", "r1@example.org")
        conn.send("b@example.org", "r0b@example.org", message(1))
        conn.close()  # a stop: r1's envelope is open on the server, in DATA
        assert not conn.connected
        assert [m.rcpt for m in server.handler.messages] == ["r0@example.org", "r0b@example.org"]


def test_a_refusal_of_the_early_envelope_belongs_to_the_next_message() -> None:
    with SmtpServer(
        pipelining=True, rcpt_rules={"gone@example.org": "550 5.1.1 No such user"}
    ) as server:
        conn = connect(server)
        conn.send("b@example.org", "r0@example.org", message(0))
        conn.announce("b@example.org", "gone@example.org")
        assert conn.send("b@example.org", "r1@example.org", message(1)).code == 250
        with pytest.raises(PermanentFailure) as caught:
            conn.send("b@example.org", "gone@example.org", message(2))
        assert caught.value.code == 550 and caught.value.from_server
        assert conn.send("b@example.org", "r3@example.org", message(3)).code == 250
        conn.close()
        assert server.handler.connections == 1  # RSET kept the session
        assert [m.rcpt for m in server.handler.messages] == [
            "r0@example.org",
            "r1@example.org",
            "r3@example.org",
        ]


def test_a_refused_message_still_lets_the_early_envelope_through() -> None:
    with SmtpServer(
        pipelining=True, data_rules={"r1@example.org": "554 5.6.0 Content rejected"}
    ) as server:
        conn = connect(server)
        conn.send("b@example.org", "r0@example.org", message(0))
        conn.announce("b@example.org", "r2@example.org")
        with pytest.raises(PermanentFailure, match="Content rejected"):
            conn.send("b@example.org", "r1@example.org", message(1))
        assert conn.send("b@example.org", "r2@example.org", message(2)).code == 250
        conn.close()
        assert [m.rcpt for m in server.handler.messages] == ["r0@example.org", "r2@example.org"]
        assert server.handler.connections == 1


def test_the_last_message_of_a_session_carries_no_envelope(writes: list[bytes]) -> None:
    with SmtpServer(pipelining=True) as server:
        conn = connect(server, max_messages=2)
        send_all(conn, [f"r{i}@example.org" for i in range(3)])
        conn.close()
        assert len(server.handler.messages) == 3
        assert server.handler.connections == 2
    second_data = next(w for w in writes if b"body 1" in w)
    assert second_data.endswith(b"body 1\r\n.\r\n")  # the session ends here: QUIT, not MAIL


def test_an_envelope_with_a_line_break_is_never_announced() -> None:
    with SmtpServer(pipelining=True) as server:
        conn = connect(server)
        conn.send("b@example.org", "r0@example.org", message(0))
        evil = "x@example.org>\r\nRCPT TO:<victim@example.org"
        conn.announce("b@example.org", evil)
        assert conn.send("b@example.org", "r1@example.org", message(1)).code == 250
        with pytest.raises(PermanentFailure, match="line break"):
            conn.send("b@example.org", evil, message(2))
        conn.close()
        assert [m.rcpt for m in server.handler.messages] == ["r0@example.org", "r1@example.org"]


def test_an_smtputf8_envelope_is_not_sent_early_to_a_server_without_it() -> None:
    with SmtpServer(pipelining=True, smtputf8=False) as server:
        conn = connect(server)
        conn.announce("b@example.org", "用户@例子.广告")
        assert conn.send("b@example.org", "r0@example.org", message(0)).code == 250
        with pytest.raises(PermanentFailure, match="SMTPUTF8"):
            conn.send("b@example.org", "用户@例子.广告", message(1))
        assert conn.send("b@example.org", "r2@example.org", message(2)).code == 250
        conn.close()
        assert [m.rcpt for m in server.handler.messages] == ["r0@example.org", "r2@example.org"]
        assert server.handler.connections == 1


def test_meanwhile_runs_while_the_server_holds_the_data() -> None:
    # The server answers DATA only once `meanwhile` ran: had the client read
    # the reply first, the server would time out with a 451.
    held = threading.Event()
    calls = []

    def meanwhile() -> None:
        calls.append(len(server.handler.messages))
        held.set()

    with SmtpServer(pipelining=True, hold_data=held) as server:
        conn = connect(server)
        assert (
            conn.send("b@example.org", "r0@example.org", message(0), meanwhile=meanwhile).code
            == 250
        )
        held.clear()
        conn.announce("b@example.org", "r2@example.org")
        assert (
            conn.send("b@example.org", "r1@example.org", message(1), meanwhile=meanwhile).code
            == 250
        )
        conn.close()
        got = server.handler.by_recipient()
    assert calls == [0, 1]  # once per send, before the server had taken that message
    assert [got[r][0].data for r in ("r0@example.org", "r1@example.org")] == [
        message(0),
        message(1),
    ]


def test_a_failing_meanwhile_does_not_fail_the_message(caplog: pytest.LogCaptureFixture) -> None:
    def meanwhile() -> None:
        raise RuntimeError("the next message could not be built")

    with SmtpServer(pipelining=True) as server:
        conn = connect(server)
        assert (
            conn.send("b@example.org", "r0@example.org", message(0), meanwhile=meanwhile).code
            == 250
        )
        assert conn.send("b@example.org", "r1@example.org", message(1)).code == 250
        conn.close()
        got = server.handler.by_recipient()
        assert server.handler.connections == 1
    assert {r: len(v) for r, v in got.items()} == {"r0@example.org": 1, "r1@example.org": 1}
    assert "could not be built" in caplog.text


def test_meanwhile_is_not_called_when_the_recipient_is_refused() -> None:
    calls = []
    with SmtpServer(pipelining=True, rcpt_rules={"gone@example.org": "550 5.1.1 no"}) as server:
        conn = connect(server)
        with pytest.raises(PermanentFailure):
            conn.send(
                "b@example.org", "gone@example.org", message(0), meanwhile=lambda: calls.append(1)
            )
        conn.close()
    assert calls == []  # the caller does that work itself after a send that ended early
