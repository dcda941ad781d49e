"""Signed ``mailto:`` unsubscribe addresses: ``bounces+u-<subscriber>-<list>-<tag>@domain``.

The List-Unsubscribe header offers this address next to the https link.
It shares the bounce address's local part and ``+`` extension, so the mail
server delivers it to the bounce mailbox with no extra routing, and
``bounces process`` (or ``mailer run``'s poll) unsubscribes that subscriber
from that list. The tag is an HMAC of subscriber, list and the subscriber's
address under the secret key: it cannot be made for someone else, and an
address kept after its subscriber was erased never acts on whoever gets the
id next. Lower-case only (some servers lower-case the local part); the local
part stays within RFC 5321's 64 octets for any realistic bounce address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

_TOKEN = re.compile(r"u-([0-9a-f]{1,12})-([0-9a-f]{1,8})-([a-z2-7]{16})")
MAX_LOCAL = 64


@dataclass(frozen=True)
class Claim:
    """What an unsubscribe address says; ``genuine`` checks it against the subscriber."""

    subscriber_id: int
    list_id: int
    tag: str

    def genuine(self, secret: str, email: str) -> bool:
        return hmac.compare_digest(self.tag, _tag(secret, self.subscriber_id, self.list_id, email))


def _tag(secret: str, subscriber_id: int, list_id: int, email: str) -> str:
    message = f"unsubscribe-mail:{subscriber_id}:{list_id}:{email.strip().lower()}"
    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii")[:16].lower()


def unsubscribe_address(
    base: str, secret: str, subscriber_id: int, list_id: int, email: str
) -> str | None:
    """The address, or None when the bounce address's local part leaves no room for it."""
    local, _, domain = base.rpartition("@")
    token = f"u-{subscriber_id:x}-{list_id:x}-{_tag(secret, subscriber_id, list_id, email)}"
    if len(f"{local}+{token}") > MAX_LOCAL:
        return None
    return f"{local}+{token}@{domain}"


def mailto_maker(base: str, secret: str, list_id: int) -> Callable[[int, str], str | None]:
    """A per-recipient ``mailto:`` URI maker for one list, for the message factory."""

    def make(subscriber_id: int, email: str) -> str | None:
        address = unsubscribe_address(base, secret, subscriber_id, list_id, email)
        return f"mailto:{address}?subject=unsubscribe" if address else None

    return make


def parse_unsubscribe(address: str, base: str) -> Claim | None:
    """The claim an address of the unsubscribe form makes (not yet verified), or None."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    base_local, _, base_domain = base.lower().rpartition("@")
    if not base or domain != base_domain or not local.startswith(base_local + "+"):
        return None
    m = _TOKEN.fullmatch(local[len(base_local) + 1 :])
    if m is None:
        return None
    return Claim(int(m[1], 16), int(m[2], 16), m[3])


def claims(addresses: list[str], base: str) -> set[Claim]:
    """The unsubscribe claims among a message's envelope-recipient addresses."""
    found = (parse_unsubscribe(a, base) for a in addresses)
    return {c for c in found if c is not None}
