"""Addresses as they go on the wire: IDNA A-label domains, SMTPUTF8 only when needed.

A subscriber's address is stored as given, internationalized domain and all
(``muller@bücher.example``). SMTP commands and 7-bit headers need the domain
as an A-label (UTS 46 / IDNA 2008 via the ``idna`` package: Python's own
"idna" codec is IDNA 2003 and maps some names differently); only a non-ASCII
local part needs the server's SMTPUTF8 extension (RFC 6531), and that is the
one thing an A-label cannot fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import idna


class AddressError(ValueError):
    """An address whose domain cannot be put in IDNA form."""


@dataclass(frozen=True)
class WireAddress:
    address: str  # the domain as an A-label; the local part as given
    smtputf8: bool  # True when the local part is not ASCII


def ascii_domain(domain: str) -> str:
    """The A-label form of ``domain`` (ASCII domains pass through unchanged)."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressError(f"the domain {domain!r} has no IDNA form: {exc}") from None


def wire_address(address: str) -> WireAddress:
    """``address`` with an A-label domain, and whether it still needs SMTPUTF8."""
    local, at, domain = address.rpartition("@")
    if not at:
        return WireAddress(address, not address.isascii())
    return WireAddress(f"{local}@{ascii_domain(domain)}", not local.isascii())


def ascii_address(address: str) -> str | None:
    """The address all in ASCII (A-label domain), or None when the local part is not ASCII."""
    wire = wire_address(address)
    return None if wire.smtputf8 else wire.address
