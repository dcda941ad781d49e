"""Header shortcuts give what the general code gives."""

from __future__ import annotations

from email.utils import formataddr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.message.headers import _fold_words, _phrase, ascii_address, fold_line, mailbox

WORDS = st.text(alphabet=st.sampled_from("ab \r\n\t,\"'é中"), max_size=120)


@settings(max_examples=400, deadline=None)
@given(WORDS, st.sampled_from(["", "To: ", "Date: ", " ", "  X: "]))
def test_a_line_that_fits_folds_as_the_word_by_word_fold(text: str, lead: str) -> None:
    line = lead + text
    assert fold_line(line) == _fold_words(line)


@pytest.mark.parametrize(
    "line",
    [
        "",
        " ",
        " lead",
        "Date: Sun, 29 Nov 2026 02:24:57 +0000",
        "x" * 78,
        "x" * 79,
        "a\r\nb",
        "a  b ",
        "List-Unsubscribe: <https://news.example.org/unsubscribe/" + "t" * 60 + ">",
        "x" * 78 + " ",
        "x" * 77 + " y",
        "x" * 76 + " y",
        "a " + "b" * 90,
        "a  " + "b" * 90,
        " " + "b" * 90,
        "a " + "b" * 90 + "\r\n",
    ],
)
def test_edges_of_the_shortcut_fold_as_the_word_by_word_fold(line: str) -> None:
    assert fold_line(line) == _fold_words(line)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ 0.,;:@<>()[]\\\"'-_!#"), min_size=1, max_size=40))
def test_an_ascii_display_name_is_what_formataddr_makes_of_it(name: str) -> None:
    assert _phrase(name) == formataddr((name, "x@x")).rsplit(" <", 1)[0]


@pytest.mark.parametrize(
    "address", ["reader@example.org", "a.b+c@sub.example.org", "no-at-sign", "x@", "@y", ""]
)
def test_an_ascii_address_is_its_own_ascii_form(address: str) -> None:
    assert ascii_address(address) == address
    assert mailbox("Reader", address) == (f"Reader <{address}>", False)


def test_a_non_ascii_address_still_goes_through_idna() -> None:
    assert mailbox("", "muller@bücher.example") == ("muller@xn--bcher-kva.example", False)
    assert mailbox("", "müller@example.org") == ("müller@example.org", True)
