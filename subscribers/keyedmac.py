"""HMAC (RFC 2104) with the key's inner and outer hash states made once.

Links and Message-IDs are signed per message under a key fixed for the
process. ``hmac.new`` per message, or ``HMAC.copy``, costs 1-1.5 us in
Python; copying the two prepared hash states costs a third of that. The
digests are ``hmac``'s (tests compare them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_XOR_36 = bytes(x ^ 0x36 for x in range(256))
_XOR_5C = bytes(x ^ 0x5C for x in range(256))


class KeyedMac:
    def __init__(self, key: bytes, digestmod: Callable[..., Any]) -> None:
        inner = digestmod()
        block = inner.block_size
        if len(key) > block:
            key = digestmod(key).digest()
        key = key.ljust(block, b"\0")
        inner.update(key.translate(_XOR_36))
        outer = digestmod()
        outer.update(key.translate(_XOR_5C))
        self._inner = inner
        self._outer = outer

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return bytes(outer.digest())

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return str(outer.hexdigest())
