"""VERP return paths: ``bounces+<campaign>-<subscriber>-<tag>@domain``.

The tag is an HMAC of the two numbers under the secret key, so a bounce maps
back to a campaign and subscriber even when the DSN itself is vague, and
nobody can forge a bounce that suppresses somebody else. Lower-case only:
some servers lower-case the local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_TOKEN = re.compile(r"([0-9a-f]+)-([0-9a-f]+)-([a-z2-7]{10})")


def _tag(secret: str, campaign_id: int, subscriber_id: int) -> str:
    mac = hmac.new(
        secret.encode(), f"verp:{campaign_id}:{subscriber_id}".encode(), hashlib.sha256
    ).digest()
    return base64.b32encode(mac).decode("ascii")[:10].lower()


def verp_address(base: str, secret: str, campaign_id: int, subscriber_id: int) -> str:
    local, _, domain = base.rpartition("@")
    token = f"{campaign_id:x}-{subscriber_id:x}-{_tag(secret, campaign_id, subscriber_id)}"
    return f"{local}+{token}@{domain}"


def parse_verp(address: str, base: str, secret: str) -> tuple[int, int] | None:
    """(campaign, subscriber) from a VERP address of ours, or None."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    base_local, _, base_domain = base.lower().rpartition("@")
    if domain != base_domain or not local.startswith(base_local + "+"):
        return None
    m = _TOKEN.fullmatch(local[len(base_local) + 1 :])
    if m is None:
        return None
    campaign_id, subscriber_id = int(m[1], 16), int(m[2], 16)
    if not hmac.compare_digest(m[3], _tag(secret, campaign_id, subscriber_id)):
        return None
    return campaign_id, subscriber_id
