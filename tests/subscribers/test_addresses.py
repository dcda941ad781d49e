import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from subscribers.addresses import _fast_key, address_hash, parse_address
from subscribers.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Foo.Bar@Example.COM", "foo.bar@example.com"),
        ("  li.wei@example.org \t", "li.wei@example.org"),
        ("x@bücher.de", "x@bücher.de"),
        ("x@xn--bcher-kva.de", "x@bücher.de"),  # punycode and Unicode are one address
        ("用户@例子.广告", "用户@例子.广告"),
        ("o'brien+news@example.ie", "o'brien+news@example.ie"),
    ],
)
def test_valid_addresses_normalize(raw: str, key: str) -> None:
    address = parse_address(raw)
    assert address.key == key
    assert address.given == raw.strip()
    assert address.hash == address_hash(key)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "is empty"),
        ("plainaddress", "@-sign"),
        ("a..b@example.com", "two periods"),
        ("someone@", "after the @-sign"),
        ("a@localhost", "should have a period"),
        ("a@b.test", "special-use"),
        ("a" * 65 + "@example.com", "too long"),
        ("é" * 33 + "@example.com", "66 octets"),  # 33 characters, 66 octets
        ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 60 + ".com", "too long"),
    ],
)
def test_invalid_addresses_name_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_address(raw)
    assert err.value.field == "email"
    assert reason in str(err.value)


def test_limits_are_inclusive() -> None:
    local = "a" * 64
    domain = "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
    address = f"{local}@{domain}"
    assert len(address) == 254
    assert parse_address(address).key == address


_atom = st.text(alphabet="abcXYZ019!#$%&'*+/=?^_`{|}~-.", min_size=1, max_size=70)
_label = st.text(alphabet="abcXYZ019-", min_size=1, max_size=70)
_tld = st.sampled_from(["com", "ORG", "de", "test", "local", "c0m", "x", "xn--p1ai"])


@settings(max_examples=600, deadline=None)
@given(_atom, st.lists(_label, min_size=1, max_size=4), _tld)
def test_fast_path_agrees_with_email_validator(local: str, labels: list[str], tld: str) -> None:
    """The shortcut may only accept what email-validator accepts, with the same key."""
    address = f"{local}@{'.'.join([*labels, tld])}"
    fast = _fast_key(address)
    if fast is None:
        return
    try:
        result = validate_email(address, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:  # pragma: no cover - a failure of the property
        pytest.fail(f"fast path accepted {address!r}, email-validator said: {exc}")
    assert fast == result.normalized.lower()
