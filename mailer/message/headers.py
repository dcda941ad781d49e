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

from mailer.transport import address as transport_address

_CONTROL = re.compile(r"[\r\n\x00]+")


def clean(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())


def fold(name: str, value: str) -> bytes:
    """A whole header line (CRLF-terminated), encoded and folded by the stdlib policy."""
    # Through header_factory: policy.fold() alone passes a short str through unencoded.
    header = SMTP.header_factory(name, clean(value))
    return str(header.fold(policy=SMTP)).encode("ascii")


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def ascii_address(address: str) -> str | None:
    """The address in ASCII (UTS 46 A-label domain), or None when the local part needs SMTPUTF8."""
    return transport_address.ascii_address(address)


def _phrase(name: str) -> str:
    """A display name as an RFC 5322 phrase: quoted if ASCII, else encoded-words.

    Long encoded names are split into encoded-words of at most 75 characters,
    folded onto continuation lines (RFC 2047 section 2).
    """
    if name.isascii():
        return formataddr((name, "x@x")).rsplit(" <", 1)[0]
    return str(Header(name, "utf-8").encode(linesep="\r\n", maxlinelen=76))


def mailbox(name: str, address: str) -> tuple[str, bool]:
    """(``Name <addr>`` for a To/From header value, whether it needs SMTPUTF8).

    The value may already be folded (CRLF and a space) when the name is long.
    The stdlib's own folder is not used here: it can drop the quotes of a long
    display name that contains a comma, turning one recipient into many.
    """
    name = clean(name)
    plain = ascii_address(address)
    addr = plain if plain is not None else address
    if not name:
        return addr, plain is None
    phrase = _phrase(name)
    sep = " " if len(phrase) + len(addr) < 70 else "\r\n "
    return f"{phrase}{sep}<{addr}>", plain is None


def parse_from(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    return name, address


def encoded_words(text: str) -> str:
    """Just the encoded-word form, for building headers by hand."""
    return Header(clean(text), "utf-8").encode()
