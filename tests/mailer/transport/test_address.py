import pytest

from mailer.transport.address import AddressError, ascii_address, wire_address


def test_domains_become_uts46_a_labels_and_local_parts_stay() -> None:
    assert wire_address("muller@Bücher.example").address == "muller@xn--bcher-kva.example"
    # UTS 46 (not Python's IDNA 2003 codec): ß is kept, not mapped to "ss".
    assert wire_address("a@straße.example").address == "a@xn--strae-oqa.example"
    assert ascii_address("Plain@Example.org") == "Plain@Example.org"
    utf8 = wire_address("李伟@例子.example")
    assert utf8 == wire_address("李伟@xn--fsqu00a.example") and utf8.smtputf8
    assert ascii_address("李伟@example.org") is None


def test_a_domain_without_an_idna_form_is_a_clear_error() -> None:
    with pytest.raises(AddressError, match="has no IDNA form"):
        wire_address("a@-bad-\u200d.example")
