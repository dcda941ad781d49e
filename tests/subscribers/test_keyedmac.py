import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest

from subscribers.keyedmac import KeyedMac


@pytest.mark.parametrize("digestmod", [hashlib.sha1, hashlib.sha256, hashlib.sha512])
@pytest.mark.parametrize("key", [b"", b"s", b"x" * 64, b"y" * 65, b"z" * 128, b"\xff" * 200])
def test_the_digests_are_hmacs(key: bytes, digestmod: Callable[..., Any]) -> None:
    mac = KeyedMac(key, digestmod)
    for message in (b"", b"a.b", b"z" * 1000):
        reference = hmac.new(key, message, digestmod)
        assert mac.digest(message) == reference.digest()
        assert mac.hexdigest(message) == reference.hexdigest()
    # The prepared states are copied, never used up: the same message, the same digest.
    assert mac.digest(b"again") == mac.digest(b"again") == hmac.digest(key, b"again", digestmod)
