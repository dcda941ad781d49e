"""HMAC under a key fixed for the process, keyed once.

Links and Message-IDs are signed per message: ``hmac.new`` per message
derives the key's inner and outer pads every time; copying an HMAC object
keyed once (the standard library's own, not a homemade construction) skips
that.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any


class KeyedMac:
    def __init__(self, key: bytes, digestmod: Callable[..., Any]) -> None:
        self._keyed = hmac.new(key, digestmod=digestmod)

    def _mac(self, message: bytes) -> hmac.HMAC:
        mac = self._keyed.copy()
        mac.update(message)
        return mac

    def digest(self, message: bytes) -> bytes:
        return self._mac(message).digest()

    def hexdigest(self, message: bytes) -> str:
        return self._mac(message).hexdigest()
