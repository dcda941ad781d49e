"""Header values that cannot smuggle a new header or a new recipient.

Names and subjects come from subscribers and staff: CR, LF and NUL are
replaced before anything is encoded; non-ASCII text becomes RFC 2047
encoded-words; a display name with a comma or quote is quoted, so it can
never add a recipient.
"""

from __future__ import annotations

import re
from email.header import Header
from email.policy import SMTP
from email.utils import formataddr, parseaddr

_CONTROL = re.compile(r"[\r\n\x00]+")


def clean(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())


def fold(name: str, value: str) -> bytes:
    """A whole header line (CRLF-terminated), encoded and folded by the stdlib policy."""
    return str(SMTP.fold(name, clean(value))).encode("ascii")


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def ascii_address(address: str) -> str | None:
    """The address in ASCII (IDNA domain), or None when the local part needs SMTPUTF8."""
    local, domain = split_address(address)
    if not local.isascii():
        return None
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def mailbox(name: str, address: str) -> tuple[str, bool]:
    """(``Name <addr>`` for a To/From header, whether it needs SMTPUTF8)."""
    name = clean(name)
    plain = ascii_address(address)
    if plain is not None:
        return formataddr((name, plain), charset="utf-8"), False
    # RFC 6532: the address goes raw in UTF-8; the name is still encoded.
    if not name:
        return address, True
    encoded_name = formataddr((name, "x@x"), charset="utf-8").rsplit(" <", 1)[0]
    return f"{encoded_name} <{address}>", True


def parse_from(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    return name, address


def encoded_words(text: str) -> str:
    """Just the encoded-word form, for building headers by hand."""
    return Header(clean(text), "utf-8").encode()
