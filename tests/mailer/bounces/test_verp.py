from mailer.bounces.verp import parse_verp, read_verp, tag_matches, verp_address

BASE = "bounces@example.org"


def test_a_tag_is_bound_to_the_subscribers_key() -> None:
    address = verp_address(BASE, "s", 42, 7, "a" * 32)
    keys = {7: "a" * 32}
    assert parse_verp(address, BASE, "s", keys.__getitem__) == (42, 7)
    assert parse_verp(address.upper(), BASE, "s", keys.__getitem__) == (42, 7)
    # The same id held by someone else (another key), or by nobody, or no lookup at all.
    assert parse_verp(address, BASE, "s", {7: "b" * 32}.__getitem__) is None
    assert parse_verp(address, BASE, "s", {}.__getitem__) is None
    assert parse_verp(address, BASE, "s") is None
    assert parse_verp(address, BASE, "other-secret", keys.__getitem__) is None


def test_tags_from_before_keys_match_keyless_subscribers_only() -> None:
    old = verp_address(BASE, "s", 42, 7)
    assert parse_verp(old, BASE, "s") == (42, 7)
    assert parse_verp(old, BASE, "s", {7: None}.__getitem__) == (42, 7)
    assert parse_verp(old, BASE, "s", {7: "a" * 32}.__getitem__) is None
    found = read_verp(old, BASE)
    assert found is not None and found[:2] == (42, 7)
    assert tag_matches(found, "s", None) and not tag_matches(found, "s", "a" * 32)
    assert read_verp("someone@example.org", BASE) is None
