"""Quoted-printable segments: the shortcut for plain values is binascii's output."""

from __future__ import annotations

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
