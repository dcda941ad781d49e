"""Header values that cannot smuggle a new header or a new recipient.

Names and subjects come from subscribers and staff: CR, LF and NUL are
replaced before anything is encoded; non-ASCII text becomes RFC 2047
encoded-words; a display name with a comma or quote is quoted, so it can
never add a recipient.
"""

from __future__ import annotations

import base64
import re
from email.utils import formataddr, parseaddr

from mailer.transport import address as transport_address

_CONTROL = re.compile(r"[\r\n\x00]+")
# What makes email.utils.formataddr quote a display name (its ``specialsre``).
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def clean(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())


LINE = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters
WORD = 75  # RFC 2047 2: an encoded-word is at most 75 characters
_WORD_OVERHEAD = len("=?utf-8?b??=")


def fold(name: str, value: str) -> bytes:
    """A whole unstructured header line (CRLF-terminated): encoded-words if needed, folded."""
    value = clean(value)
    if not value.isascii():
        value = _encode_runs(value, first=LINE - len(name) - 2)
    return fold_line(f"{name}: {value}")


def _encode_runs(value: str, first: int) -> str:
    """Runs of words with non-ASCII characters become encoded-words; ASCII words stay.

    Mixing is allowed in unstructured text and phrases (RFC 2047 5); it keeps
    ``<list-id>`` and plain words readable.
    """
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.extend(encode_words(" ".join(run), first=first if not out else WORD))
            run.clear()

    for token in value.split(" "):
        if token.isascii():
            flush()
            out.append(token)
        else:
            run.append(token)
    flush()
    return " ".join(out)


def encode_words(text: str, first: int = WORD) -> list[str]:
    """``text`` as base64 encoded-words of at most 75 characters (the first at most ``first``).

    Split on character boundaries, never inside a UTF-8 sequence; the space
    between adjacent encoded-words vanishes when decoding (RFC 2047 6.2).
    """
    words: list[str] = []
    limit = min(first, WORD)
    chunk = ""
    for ch in text:
        if _word_len(chunk + ch) > limit and chunk:
            words.append(_word(chunk))
            chunk, limit = "", WORD
        chunk += ch
    if chunk:
        words.append(_word(chunk))
    return words


def _word_len(chunk: str) -> int:
    return _WORD_OVERHEAD + 4 * -(-len(chunk.encode("utf-8")) // 3)


def _word(chunk: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(chunk.encode("utf-8")).decode("ascii") + "?="


def fold_line(line: str) -> bytes:
    """Fold a header line at spaces so lines stay within 78 characters where they can.

    Only a CRLF is inserted before an existing space, so unfolding (RFC 5322
    2.2.3) gives back exactly ``line``, inside quoted strings too. A line that
    is already folded is unfolded first. A single token longer than a line
    (a long URL) stays whole: 998 is the hard limit, 78 a SHOULD.
    """
    if "\r\n" not in line and line[:1] != " ":
        # What _fold_words gives back, without going word by word, for a line
        # that fits (most per-recipient ones): itself; and for a long one with
        # a single space (``List-Unsubscribe: <link>``): a fold at that space.
        # A leading space is left to it, as it drops it.
        if len(line) <= LINE:
            return (line + "\r\n").encode("utf-8")
        if line.count(" ") == 1:
            return (line.replace(" ", "\r\n ") + "\r\n").encode("utf-8")
    return _fold_words(line)


def _fold_words(line: str) -> bytes:
    """``fold_line`` the long way, word by word."""
    line = line.replace("\r\n", "")
    out: list[str] = []
    current = ""
    for token in line.split(" "):
        if not current:
            current = token
        elif len(current) + 1 + len(token) <= LINE:
            current += " " + token
        else:
            out.append(current)
            current = " " + token
    out.append(current)
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def ascii_address(address: str) -> str | None:
    """The address in ASCII (UTS 46 A-label domain), or None when the local part needs SMTPUTF8."""
    return transport_address.ascii_address(address)


def _phrase(name: str) -> str:
    """A display name as an RFC 5322 phrase: quoted if ASCII, else encoded-words.

    Long encoded names are split into encoded-words of at most 75 characters
    (RFC 2047 section 2); the whole header line is folded by ``fold_line``.
    """
    if name.isascii():
        if name and not _SPECIALS.search(name):
            return name  # what formataddr leaves of a name with nothing to quote
        return formataddr((name, "x@x")).rsplit(" <", 1)[0]
    return " ".join(encode_words(name, first=LINE - len("To: ")))


def mailbox(name: str, address: str) -> tuple[str, bool]:
    """(``Name <addr>`` for a To/From header value, whether it needs SMTPUTF8).

    The value may already be folded (CRLF and a space) when the name is long.
    The stdlib's own folder is not used here: it can drop the quotes of a long
    display name that contains a comma, turning one recipient into many.
    """
    name = clean(name)
    # An ASCII address is its own ASCII form (wire_address rebuilds it unchanged).
    plain = address if address.isascii() else ascii_address(address)
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
    return " ".join(encode_words(clean(text)))
