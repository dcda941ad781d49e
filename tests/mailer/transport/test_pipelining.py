"""PIPELINING (RFC 2920): the envelope in one write, and every reply still graded.

Against a real aiosmtpd server that offers PIPELINING, with a fault injected
at each step: MAIL, RCPT and DATA refused or the connection dropped there.
"""

import smtplib

import idna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.transport import PermanentFailure, SessionFailure, TemporaryFailure
from mailer.transport.smtp import SmtpConfig, SmtpConnection, data_payload
from tests.smtp_server import SmtpServer

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n.dot\r\nbody\r\n"


def connect(server: SmtpServer) -> SmtpConnection:
    return SmtpConnection(SmtpConfig(host="127.0.0.1", port=server.port, timeout=5))


def envelope_writes(writes: list[bytes]) -> list[bytes]:
    return [w for w in writes if w.upper().startswith((b"MAIL", b"RCPT", b"DATA"))]


def test_the_envelope_goes_in_one_write_when_offered(writes: list[bytes]) -> None:
    with SmtpServer(pipelining=True) as server:
        conn = connect(server)
        for i in range(3):
            assert conn.send("b@example.org", f"r{i}@example.org", MESSAGE).code == 250
        conn.close()
        got = server.handler.by_recipient()
    assert [got[f"r{i}@example.org"][0].data for i in range(3)] == [MESSAGE] * 3
    assert envelope_writes(writes)[0] == (
        b"MAIL FROM:<b@example.org>\r\nRCPT TO:<r0@example.org>\r\nDATA\r\n"
    )
    assert len(envelope_writes(writes)) == 3


def test_without_the_extension_each_command_waits_for_its_reply(writes: list[bytes]) -> None:
    with SmtpServer(pipelining=False) as server:
        conn = connect(server)
        assert conn.send("b@example.org", "r@example.org", MESSAGE).code == 250
        conn.close()
    assert [w[:4].upper() for w in envelope_writes(writes)] == [b"MAIL", b"RCPT", b"DATA"]


def test_a_refused_sender_is_the_sessions_and_the_session_survives() -> None:
    with SmtpServer(pipelining=True, mail_rule="451 4.7.1 Later") as server:
        conn = connect(server)
        with pytest.raises(SessionFailure) as caught:
            conn.send("b@example.org", "r@example.org", MESSAGE)
        assert caught.value.temporary and "451 4.7.1 Later" in caught.value.reply
        assert conn.connected  # RSET, not a new connection
        server.handler.mail_rule = None
        assert conn.send("b@example.org", "r@example.org", MESSAGE).code == 250
        conn.close()
        assert server.handler.connections == 1 and len(server.handler.messages) == 1


def test_a_refused_recipient_is_the_recipients_and_the_next_one_goes() -> None:
    with SmtpServer(
        pipelining=True,
        rcpt_rules={"gone@example.org": "550 5.1.1 No such user", "full@example.org": "452 4.2.2"},
    ) as server:
        conn = connect(server)
        with pytest.raises(PermanentFailure) as hard:
            conn.send("b@example.org", "gone@example.org", MESSAGE)
        assert hard.value.code == 550 and hard.value.from_server
        with pytest.raises(TemporaryFailure) as soft:
            conn.send("b@example.org", "full@example.org", MESSAGE)
        assert soft.value.code == 452 and not soft.value.uncertain
        assert conn.send("b@example.org", "ok@example.org", MESSAGE).code == 250
        conn.close()
        assert server.handler.connections == 1
        assert [m.rcpt for m in server.handler.messages] == ["ok@example.org"]


@pytest.mark.parametrize(
    ("reply", "kind"), [("554 5.3.4 No", PermanentFailure), ("451 4.3.0 Later", TemporaryFailure)]
)
def test_data_refused_after_pipelined_commands(reply: str, kind: type[Exception]) -> None:
    with SmtpServer(pipelining=True, data_cmd_rule=reply) as server:
        conn = connect(server)
        with pytest.raises(kind) as caught:
            conn.send("b@example.org", "r@example.org", MESSAGE)
        assert reply in str(caught.value)
        server.handler.data_cmd_rule = None
        assert conn.send("b@example.org", "r@example.org", MESSAGE).code == 250
        conn.close()
        assert len(server.handler.messages) == 1


def test_a_broken_relay_that_says_354_to_a_refused_envelope_loses_the_session() -> None:
    # After a refused RCPT, a 354 means the server reads our next commands as
    # message text: the only safe move is to hang up and start over.
    with SmtpServer(
        pipelining=True,
        rcpt_rules={"gone@example.org": "550 5.1.1 No such user"},
        data_cmd_rule="354 go ahead",
    ) as server:
        conn = connect(server)
        with pytest.raises(PermanentFailure):
            conn.send("b@example.org", "gone@example.org", MESSAGE)
        assert not conn.connected
        server.handler.data_cmd_rule = None
        assert conn.send("b@example.org", "r@example.org", MESSAGE).code == 250
        conn.close()
        assert server.handler.connections == 2


@pytest.mark.parametrize("step", ["MAIL", "RCPT", "DATA"])
def test_a_hangup_before_the_data_is_temporary_and_not_in_doubt(step: str) -> None:
    with SmtpServer(pipelining=True, hangup_at=step) as server:
        conn = connect(server)
        with pytest.raises((TemporaryFailure, SessionFailure)) as caught:
            conn.send("b@example.org", "r@example.org", MESSAGE)
        failure = caught.value
        # Whichever reply the hangup cut off, the message never left: no doubt.
        if isinstance(failure, TemporaryFailure):
            assert not failure.uncertain
        else:
            assert failure.temporary and failure.code == 421
        assert conn.send("b@example.org", "r@example.org", MESSAGE).code == 250
        conn.close()
        assert len(server.handler.messages) == 1


def test_a_hangup_after_the_data_is_in_doubt() -> None:
    with SmtpServer(pipelining=True, drop_after_data={"r@example.org"}) as server:
        conn = connect(server)
        with pytest.raises(TemporaryFailure) as caught:
            conn.send("b@example.org", "r@example.org", MESSAGE)
        assert caught.value.uncertain
        conn.close()


def test_a_line_break_in_an_address_cannot_smuggle_a_command() -> None:
    with SmtpServer(pipelining=True) as server:
        conn = connect(server)
        evil = "x@example.org>\r\nRCPT TO:<victim@example.org"
        with pytest.raises(PermanentFailure, match="line break") as caught:
            conn.send("b@example.org", evil, MESSAGE)
        assert not caught.value.from_server
        assert conn.send("b@example.org", "r@example.org", MESSAGE).code == 250
        conn.close()
        assert [m.rcpt for m in server.handler.messages] == ["r@example.org"]


def test_smtputf8_and_idna_go_through_the_pipelined_envelope() -> None:
    data = "From: a@example.org\r\nTo: 用户@例子.广告\r\n\r\nhi\r\n".encode()
    with SmtpServer(pipelining=True, smtputf8=True) as server:
        conn = connect(server)
        assert conn.send("bounce@bücher.example", "用户@例子.广告", data, smtputf8=True).code == 250
        conn.close()
        [got] = server.handler.messages
    assert got.mail_from == "bounce@xn--bcher-kva.example"
    assert got.rcpt == "用户@" + idna.encode("例子.广告", uts46=True).decode()
    assert "SMTPUTF8" in [o.upper() for o in got.options]
    with SmtpServer(pipelining=True, smtputf8=False) as server:
        conn = connect(server)
        with pytest.raises(PermanentFailure, match="SMTPUTF8"):
            conn.send("a@example.org", "用户@例子.广告", data, smtputf8=True)
        assert conn.send("a@example.org", "jorg@bücher.example", MESSAGE).code == 250
        conn.close()
        assert server.handler.messages[0].rcpt == "jorg@xn--bcher-kva.example"


lines = st.lists(
    st.text(alphabet=st.sampled_from(".a \t"), max_size=6).map(lambda t: t.encode()),
    max_size=8,
)


@given(lines)
def test_dot_stuffing_gives_the_bytes_smtplib_would_send(parts: list[bytes]) -> None:
    msg = b"\r\n".join(parts) + b"\r\n" * (len(parts) % 2)
    expected = smtplib._quote_periods(msg)  # type: ignore[attr-defined]
    if expected[-2:] != b"\r\n":
        expected += b"\r\n"
    assert data_payload(msg) == expected + b".\r\n"
