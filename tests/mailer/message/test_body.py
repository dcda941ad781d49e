"""Quoted-printable segments: the shortcut for plain values is binascii's output."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.message.body import EncodedBody, _qp_encoded, dot_stuffed, qp, relaxed_body
from mailer.render.split import SplitTemplate

LINK = "https://news.example.org/unsubscribe/WzEyMzQ1NiwxLCJhYmMiXQ.ZbYb3w.x-_y"


def test_plain_text_of_any_length_is_cut_as_binascii_cuts_it() -> None:
    for length in range(320):
        for text in ("a" * length, (LINK * 5)[:length], ("word " * 70)[:length].rstrip() + "x"):
            assert qp(text) == _qp_encoded(text), text


@pytest.mark.parametrize(
    "text",
    [
        ".",
        "..",
        ". ",
        "a.",
        "=",
        "a=b",
        "x" * 74 + "=",
        "trailing ",
        " ",
        "tab\tin",
        "é",
        "\x7f",
        "~",
    ],
)
def test_what_binascii_escapes_takes_the_long_way_and_agrees(text: str) -> None:
    assert qp(text) == _qp_encoded(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("a .=~-_/:?&\t\r\n\x7fé中"), max_size=300))
def test_qp_is_binascii_for_any_text(text: str) -> None:
    assert qp(text) == _qp_encoded(text)


def test_render_fills_only_the_fields_and_its_forms_agree() -> None:
    template = SplitTemplate(("Hello ", "name", ",\n.Your link: ", "unsubscribe_url", "\n. end\n"))
    body = EncodedBody.from_template(template)
    values = {"name": "Zoë  =x ", "unsubscribe_url": LINK}
    rendered = body.render(values)
    assert rendered == [
        qp("Hello "),
        qp("Zoë  =x "),
        qp(",\n.Your link: "),
        qp(LINK),
        qp("\n. end\n"),
    ]
    assert body.canonical_of(rendered) == [relaxed_body(seg) for seg in rendered]
    assert body.wire(rendered) == [dot_stuffed(seg) for seg in rendered]
    escaped = body.render(values, lambda v: v.upper())
    assert escaped[1] == qp("ZOË  =X ") and escaped[0] == rendered[0]


@pytest.mark.parametrize("space", [" ", "\t"])
@pytest.mark.parametrize("width", [73, 74, 75, 148, 149])
def test_whitespace_before_a_line_break_keeps_lines_within_76(space: str, width: int) -> None:
    # b2a_qp escapes whitespace that ends a line after it filled the line:
    # 74 characters, then the space as "=20", made a line of 77.
    text = "a" * width + space + "\nnext line" + space + "\n"
    encoded = qp(text)
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 76
    assert binascii.a2b_qp(encoded) == text.replace("\n", "\r\n").encode()
    assert relaxed_body(encoded) == encoded  # nothing left for DKIM to trim


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("a .=~\t\r\n\x7fé中"), max_size=300))
def test_qp_lines_stay_within_76_and_decode_to_the_text(text: str) -> None:
    encoded = qp(text)
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 76
    crlf = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    assert binascii.a2b_qp(encoded) == crlf.encode()
