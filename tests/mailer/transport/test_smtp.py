import dataclasses
import email
import email.policy

import pytest

from mailer.confirmation import confirmation_message
from mailer.outbox import smtp_sender
from mailer.settings import Settings
from mailer.transport import PermanentFailure, SessionFailure, TemporaryFailure
from mailer.transport.smtp import SmtpConfig, SmtpConnection, default_ssl_context, dot_stuff
from tests.smtp_server import SmtpServer, self_signed_context

MESSAGE = (
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n"
    b".leading dot line\r\n..two dots\r\nmiddle . dot\r\n.\r\nend\r\n"
)


@pytest.fixture(params=[False, True], ids=["stepwise", "pipelined"])
def pipelining(request: pytest.FixtureRequest) -> bool:
    """Every test with a server runs against one without PIPELINING and one with it."""
    return bool(request.param)


def connect(server: SmtpServer) -> SmtpConnection:
    return SmtpConnection(SmtpConfig(host="127.0.0.1", port=server.port, timeout=5))


def test_dot_stuffing_matches_rfc5321() -> None:
    assert dot_stuff(b".a\r\nb\r\n.c\r\n") == b"..a\r\nb\r\n..c\r\n"
    assert dot_stuff(b"no dots\r\n") == b"no dots\r\n"


def test_messages_arrive_byte_for_byte_over_one_session(pipelining: bool) -> None:
    with SmtpServer(pipelining=pipelining) as server:
        conn = connect(server)
        for i in range(3):
            result = conn.send("bounce@example.org", f"r{i}@example.org", MESSAGE)
            assert result.code == 250
        conn.close()
        got = server.handler.by_recipient()
        assert server.handler.connections == 1
    assert [got[f"r{i}@example.org"][0].data for i in range(3)] == [MESSAGE] * 3
    assert got["r0@example.org"][0].mail_from == "bounce@example.org"
    body = email.message_from_bytes(got["r0@example.org"][0].data, policy=email.policy.default)
    assert body.get_content().startswith(".leading dot line")


def test_replies_are_sorted_into_temporary_and_permanent(pipelining: bool) -> None:
    with SmtpServer(
        pipelining=pipelining,
        rcpt_rules={
            "gone@example.org": "550 5.1.1 No such user",
            "full@example.org": "452 4.2.2 Mailbox full",
        },
        data_rules={
            "spam@example.org": "554 5.7.1 Rejected",
            "later@example.org": "451 4.3.0 Try later",
        },
    ) as server:
        conn = connect(server)
        with pytest.raises(PermanentFailure) as err:
            conn.send("b@example.org", "gone@example.org", MESSAGE)
        assert err.value.code == 550 and "No such user" in err.value.reply
        with pytest.raises(TemporaryFailure) as temp:
            conn.send("b@example.org", "full@example.org", MESSAGE)
        assert temp.value.code == 452
        with pytest.raises(PermanentFailure):
            conn.send("b@example.org", "spam@example.org", MESSAGE)
        with pytest.raises(TemporaryFailure):
            conn.send("b@example.org", "later@example.org", MESSAGE)
        # The session is still good after refusals.
        assert conn.send("b@example.org", "ok@example.org", MESSAGE).code == 250
        conn.close()


def test_connection_dropped_after_data_is_temporary_and_reconnects(pipelining: bool) -> None:
    with SmtpServer(pipelining=pipelining, drop_after_data={"drop@example.org"}) as server:
        conn = connect(server)
        with pytest.raises(TemporaryFailure):
            conn.send("b@example.org", "drop@example.org", MESSAGE)
        assert not conn.connected
        assert conn.send("b@example.org", "next@example.org", MESSAGE).code == 250
        conn.close()


def test_unreachable_server_is_a_session_failure_that_may_pass() -> None:
    from tests.smtp_server import free_port

    conn = SmtpConnection(SmtpConfig(host="127.0.0.1", port=free_port(), timeout=2))
    with pytest.raises(SessionFailure, match="cannot connect") as caught:
        conn.send("a@example.org", "b@example.org", MESSAGE)
    assert caught.value.temporary


def test_refused_sender_and_login_are_the_sessions_not_the_recipients(pipelining: bool) -> None:
    with SmtpServer(pipelining=pipelining, mail_rule="553 5.7.1 Sender rejected") as server:
        conn = connect(server)
        with pytest.raises(SessionFailure) as caught:
            conn.send("b@example.org", "r@example.org", MESSAGE)
        conn.close()
    assert caught.value.reply == "relay refused sender (553 5.7.1 Sender rejected)"
    assert not caught.value.temporary
    with SmtpServer(pipelining=pipelining, mail_rule="451 4.7.1 Try again later") as server:
        conn = connect(server)
        with pytest.raises(SessionFailure) as caught:
            conn.send("b@example.org", "r@example.org", MESSAGE)
        conn.close()
    assert caught.value.temporary
    with SmtpServer(pipelining=pipelining, password="right") as server:
        config = SmtpConfig(host="127.0.0.1", port=server.port, username="u", password="wrong")
        with pytest.raises(SessionFailure, match=r"relay refused our login \(535 ") as caught:
            SmtpConnection(config).send("b@example.org", "r@example.org", MESSAGE)
        assert not caught.value.temporary and "wrong" not in caught.value.reply
        good = SmtpConnection(dataclasses.replace(config, password="right"))
        assert good.send("b@example.org", "r@example.org", MESSAGE).code == 250
        good.close()


def test_idn_domains_go_out_as_a_labels(pipelining: bool) -> None:
    with SmtpServer(pipelining=pipelining, smtputf8=False) as server:
        conn = connect(server)
        conn.send("bounce@bücher.example", "Jorg@Bücher.example", MESSAGE)
        conn.close()
        [received] = server.handler.messages
    assert received.mail_from == "bounce@xn--bcher-kva.example"
    assert received.rcpt == "jorg@xn--bcher-kva.example"


def test_the_ssl_context_is_made_once_per_process() -> None:
    assert default_ssl_context() is default_ssl_context()


def test_confirmation_email_to_an_idn_address_is_delivered(pipelining: bool) -> None:
    settings = dataclasses.replace(
        Settings(), smtp_host="127.0.0.1", from_address="LMEC <news@example.org>"
    )
    message = confirmation_message(
        settings, "LMEC", "muller@bücher.example", "Jörg", "de", "https://x.example/confirm/t"
    )
    with SmtpServer(pipelining=pipelining, smtputf8=False) as server:
        smtp_sender(dataclasses.replace(settings, smtp_port=server.port))(message)
        [received] = server.handler.messages
    assert received.rcpt == "muller@xn--bcher-kva.example"
    parsed = email.message_from_bytes(received.data, policy=email.policy.SMTP)
    assert parsed["To"].addresses[0].addr_spec == "muller@xn--bcher-kva.example"


def test_smtputf8_address_needs_the_extension(pipelining: bool) -> None:
    utf8 = "用户@例子.广告"
    data = "From: a@example.org\r\nTo: 用户@例子.广告\r\n\r\nhi\r\n".encode()
    with SmtpServer(pipelining=pipelining, smtputf8=False) as server:
        conn = connect(server)
        with pytest.raises(PermanentFailure, match="SMTPUTF8"):
            conn.send("a@example.org", utf8, data, smtputf8=True)
        conn.close()
    with SmtpServer(pipelining=pipelining, smtputf8=True) as server:
        conn = connect(server)
        assert conn.send("a@example.org", utf8, data, smtputf8=True).code == 250
        conn.close()
        assert "SMTPUTF8" in [o.upper() for o in server.handler.messages[0].options]


def test_auto_security_uses_starttls_whenever_offered(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A relay with a self-signed certificate: `auto` is opportunistic (Postfix's
    # "may"), so it encrypts rather than refusing; `starttls` verifies and refuses.
    with SmtpServer(tls_context=self_signed_context(tmp_path)) as server:
        auto = SmtpConnection(SmtpConfig(host="127.0.0.1", port=server.port, timeout=5))
        assert auto.send("b@example.org", "r@example.org", MESSAGE).code == 250
        auto.close()
        assert server.handler.tls_messages == 1
        strict = SmtpConnection(
            SmtpConfig(host="127.0.0.1", port=server.port, timeout=5, security="starttls")
        )
        with pytest.raises(SessionFailure, match="certificate"):
            strict.send("b@example.org", "r@example.org", MESSAGE)
        plain = SmtpConnection(
            SmtpConfig(host="127.0.0.1", port=server.port, timeout=5, security="none")
        )
        assert plain.send("b@example.org", "r2@example.org", MESSAGE).code == 250
        plain.close()
        assert server.handler.tls_messages == 1
    # A relay without STARTTLS: auto sends in clear, as before.
    with SmtpServer() as server:
        auto = connect(server)
        assert auto.config.security == "auto"
        assert auto.send("b@example.org", "r@example.org", MESSAGE).code == 250
        auto.close()
        assert server.handler.tls_messages == 0 and len(server.handler.messages) == 1


def test_ehlo_name_setting_reaches_the_server() -> None:
    import socket

    from mailer.settings import Settings
    from mailer.transport.smtp import smtp_config

    with SmtpServer() as server:
        settings = Settings(
            smtp_host="127.0.0.1", smtp_port=server.port, ehlo_name="mail.example.org"
        )
        conn = SmtpConnection(smtp_config(settings))
        conn.send("b@example.org", "r@example.org", MESSAGE)
        conn.close()
        default = SmtpConnection(
            smtp_config(Settings(smtp_host="127.0.0.1", smtp_port=server.port))
        )
        default.send("b@example.org", "r@example.org", MESSAGE)
        default.close()
    assert server.handler.ehlo_names == ["mail.example.org", socket.getfqdn()]
