"""VERP return paths: ``bounces+<campaign>-<subscriber>-<tag>@domain``.

The tag is an HMAC of the two numbers, and of the subscriber's random key,
under the secret key, so a bounce maps back to a campaign and subscriber
even when the DSN itself is vague, nobody can forge a bounce that
suppresses somebody else, and a bounce of mail sent to an erased person
never matches whoever holds that id later. Subscribers created before the
keys existed have none: their tags are the HMAC of the two numbers alone,
and such a tag matches only a keyless subscriber. Lower-case only: some
servers lower-case the local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from typing import NamedTuple

_TOKEN = re.compile(r"([0-9a-f]+)-([0-9a-f]+)-([a-z2-7]{10})")

# The subscriber's key by id: None for a keyless (older) row; LookupError if there is none.
KeyLookup = Callable[[int], str | None]


class VerpTag(NamedTuple):
    """A VERP address taken apart; not yet verified (see ``tag_matches``)."""

    campaign_id: int
    subscriber_id: int
    tag: str


def _tag(secret: str, campaign_id: int, subscriber_id: int, key: str | None) -> str:
    signed = f"verp:{campaign_id}:{subscriber_id}"
    if key is not None:
        signed += f":{key}"
    mac = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii")[:10].lower()


def verp_address(
    base: str, secret: str, campaign_id: int, subscriber_id: int, key: str | None = None
) -> str:
    """The return path for one message; ``key`` is the subscriber's ``Subscriber.key``."""
    local, _, domain = base.rpartition("@")
    tag = _tag(secret, campaign_id, subscriber_id, key)
    return f"{local}+{campaign_id:x}-{subscriber_id:x}-{tag}@{domain}"


def read_verp(address: str, base: str) -> VerpTag | None:
    """The parts of a VERP address of ours, unverified; None if it is not one."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    base_local, _, base_domain = base.lower().rpartition("@")
    if domain != base_domain or not local.startswith(base_local + "+"):
        return None
    m = _TOKEN.fullmatch(local[len(base_local) + 1 :])
    if m is None:
        return None
    return VerpTag(int(m[1], 16), int(m[2], 16), m[3])


def tag_matches(found: VerpTag, secret: str, key: str | None) -> bool:
    """Whether the tag was made by us for this subscriber (whose key is ``key``)."""
    expected = _tag(secret, found.campaign_id, found.subscriber_id, key)
    return hmac.compare_digest(found.tag, expected)


def parse_verp(
    address: str, base: str, secret: str, key_of: KeyLookup | None = None
) -> tuple[int, int] | None:
    """(campaign, subscriber) from a verified VERP address of ours, or None.

    ``key_of`` gives the named subscriber's key; without it only tags of
    keyless subscribers can verify.
    """
    found = read_verp(address, base)
    if found is None:
        return None
    try:
        key = key_of(found.subscriber_id) if key_of is not None else None
    except LookupError:
        return None
    if not tag_matches(found, secret, key):
        return None
    return found.campaign_id, found.subscriber_id
