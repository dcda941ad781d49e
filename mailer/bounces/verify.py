"""Which subscriber a report is provably about, if any.

The bounce address is public, so a report's own words (``Final-Recipient``,
``Original-Rcpt-To``, the quoted ``To``) prove nothing. Only what we signed
does: the VERP return path a DSN is delivered to (its HMAC tag is checked
by ``parse_verp``), or, for a complaint, the Message-ID of ours it quotes
(an HMAC of campaign and subscriber). A report that proves more than one
subscriber proves none: one report acts on at most one person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from mailer.bounces.verp import KeyLookup, parse_verp
from mailer.message.build import message_id

# The headers our own MTA writes with the envelope recipient, then To.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_OUR_ID = re.compile(r"<([0-9]{1,18})\.([0-9]{1,18})\.([0-9a-f]{12})@([^<>\s]{1,255})>")
_SCAN_LIMIT = 1_000_000  # characters of one part searched for Message-IDs


@dataclass(frozen=True)
class Proof:
    campaign_id: int | None
    subscriber_id: int | None
    reason: str  # why there is no subscriber ("" when there is one)


def envelope_addresses(msg: Message) -> list[str]:
    """Addresses in the envelope-recipient headers, in header order."""
    found = []
    for name in RECIPIENT_HEADERS:
        values = [str(v) for v in msg.get_all(name, [])]
        found += [addr for _, addr in getaddresses(values) if addr]
    return found


def _one(targets: set[tuple[int, int]], what: str, none_reason: str) -> Proof:
    subscribers = {sid for _, sid in targets}
    if not targets:
        return Proof(None, None, none_reason)
    if len(subscribers) > 1:
        return Proof(None, None, f"{what} name {len(subscribers)} different subscribers")
    campaigns = {cid for cid, _ in targets}
    # Several campaigns of one subscriber: the person is certain, the campaign is not.
    return Proof(campaigns.pop() if len(campaigns) == 1 else None, subscribers.pop(), "")


def by_verp(msg: Message, base: str, secret: str, key_of: KeyLookup | None = None) -> Proof:
    """The subscriber a DSN's VERP return path names, when its tag verifies.

    ``key_of`` gives a subscriber's link key: tags are bound to it, so a tag
    made for an erased person never names whoever holds the id now.
    """
    if not base or not secret:
        return Proof(None, None, "no bounce address or secret key configured")
    base_local, _, base_domain = base.lower().rpartition("@")
    targets, tagged = set(), False
    for addr in envelope_addresses(msg):
        local, _, domain = addr.strip().strip("<>").lower().rpartition("@")
        tagged |= domain == base_domain and local.startswith(base_local + "+")
        found = parse_verp(addr, base, secret, key_of)
        if found:
            targets.add(found)
    why = "its VERP tag does not verify" if tagged else "it was not sent to a VERP return path"
    return _one(targets, "its VERP return paths", why)


def by_message_id(msg: Message, secret: str) -> Proof:
    """The subscriber our Message-ID, quoted in a complaint, names when its HMAC verifies."""
    if not secret:
        return Proof(None, None, "no secret key configured")
    targets, seen = set(), False
    for part in msg.walk():
        texts = [str(v) for k, v in part.items() if k.lower() == "message-id"]
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.append(payload[:_SCAN_LIMIT].decode("utf-8", "replace"))
        for text in texts:
            for m in _OUR_ID.finditer(text):
                seen = True
                sid = int(m[2])
                if message_id(m[1], sid, m[4], secret) == m[0]:
                    targets.add((int(m[1]), sid))
    why = "its Message-ID HMAC does not verify" if seen else "it quotes no Message-ID of ours"
    return _one(targets, "its Message-IDs", why)
