"""The message as SMTP sends it, made from segments stuffed once per issue, is exact."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.message import Recipient
from mailer.message.body import dot_stuffed
from mailer.message.dkim import DkimSigner
from mailer.transport.smtp import data_payload
from tests.mailer.helpers import factory

# Values that put a dot at the start of a line, in the text part and the HTML.
DOTTY = [".", "..", ".\r\n.", "a\r\n.b", "\n.\n", ". leading", "x" * 75 + ".", "=2E."]


@pytest.mark.parametrize("name", DOTTY)
def test_wire_is_what_stuffing_the_whole_message_gives(name: str) -> None:
    r = Recipient(7, "li.wei@example.org", name, {"country": name, "city": "." + name})
    message = factory().build(r)
    assert b"\r\n." in message.data  # lines that need stuffing are there
    assert message.wire == data_payload(message.data)


def test_wire_of_a_signed_message_is_exact_too() -> None:
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    message = factory(DkimSigner("s1", "example.org", pem)).build(
        Recipient(3, "a@example.org", ".A", {"country": ".\r\n."})
    )
    assert message.wire == data_payload(message.data)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(".a \r\n\t=é中"), max_size=120))
def test_any_value_gives_an_exact_wire(value: str) -> None:
    message = factory().build(Recipient(1, "a@example.org", value, {"country": value}))
    assert message.wire == data_payload(message.data)


def test_a_segment_starting_a_line_with_dots_is_stuffed_at_every_line() -> None:
    assert dot_stuffed(b".a\r\n.b\r\nc.\r\n") == b"..a\r\n..b\r\nc.\r\n"
    assert dot_stuffed(b"plain\r\n") == b"plain\r\n"
