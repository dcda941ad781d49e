"""Where bounce messages are read from: a Maildir folder, an mbox file, an IMAP mailbox.

Each source yields ``Incoming`` messages. A message no parser can read
(poison) is set aside where the source allows it: in a Maildir it moves to
the ``.poison`` subfolder (a Maildir++ folder, shown as "poison" by IMAP
servers such as Dovecot); in an mbox or over IMAP it stays where it is and is
skipped by its processed-message key.
"""

from __future__ import annotations

import imaplib
import mailbox
import ssl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mailer.errors import MailerError

POISON_FOLDER = "poison"


class SourceError(MailerError):
    """The mailbox cannot be opened or read."""


def _left_in_place() -> str:
    return ""


@dataclass(frozen=True)
class Incoming:
    raw: bytes
    # Moves the message out of the way; returns where to, "" when it stays put.
    set_aside: Callable[[], str] = _left_in_place


@contextmanager
def maildir(path: str | Path) -> Iterator[Iterator[Incoming]]:
    if not Path(path).exists():
        raise SourceError(f"{path} does not exist")
    if not (Path(path) / "cur").is_dir():
        raise SourceError(f"{path} is not a Maildir folder (no cur/ inside)")
    box = mailbox.Maildir(str(path), factory=None, create=False)

    def mover(key: str, raw: bytes) -> Callable[[], str]:
        def set_aside() -> str:
            # Copy, then remove: a crash in between leaves a duplicate that is
            # skipped by its key, never a lost message.
            folder = box.add_folder(POISON_FOLDER)
            folder.add(raw)
            box.discard(key)
            return str(Path(path) / f".{POISON_FOLDER}")

        return set_aside

    def messages() -> Iterator[Incoming]:
        for key in sorted(box.keys()):
            try:
                raw = box.get_bytes(key)
            except KeyError:
                continue  # taken by another reader since the listing
            yield Incoming(raw, mover(key, raw))

    yield messages()


@contextmanager
def mbox(path: str | Path) -> Iterator[Iterator[Incoming]]:
    if not Path(path).exists():
        raise SourceError(f"{path} does not exist")
    if not Path(path).is_file():
        raise SourceError(f"{path} is not an mbox file")
    box = mailbox.mbox(str(path), factory=None, create=False)
    box.lock()
    try:
        yield (Incoming(box.get_bytes(key)) for key in list(box.iterkeys()))
    finally:
        box.unlock()
        box.close()


@contextmanager
def imap(url: str, password: str, timeout: float = 60) -> Iterator[Iterator[Incoming]]:
    """``imaps://user@host[:port]/MAILBOX`` (TLS) or ``imap://`` (STARTTLS when offered).

    Messages read are flagged \\Seen; the password comes from the settings,
    never from the command line.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise SourceError(f"{url!r} is not an IMAP URL such as imaps://user@host/INBOX")
    if not password:
        raise SourceError("set MAILER_BOUNCE_IMAP_PASSWORD (bounce_imap_password) for IMAP")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    try:
        if parts.scheme == "imaps":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                parts.hostname,
                parts.port or 993,
                ssl_context=ssl.create_default_context(),
                timeout=timeout,
            )
        else:
            client = imaplib.IMAP4(parts.hostname, parts.port or 143, timeout=timeout)
            if "STARTTLS" in client.capabilities:
                client.starttls(ssl.create_default_context())
        client.login(unquote(parts.username), password)
        status, _ = client.select(_quote(folder))
        if status != "OK":
            raise SourceError(f"no IMAP mailbox {folder!r}")
    except (OSError, imaplib.IMAP4.error) as exc:
        raise SourceError(f"IMAP {parts.hostname}: {exc}") from None

    def messages() -> Iterator[Incoming]:
        _, data = client.uid("SEARCH", "ALL")
        for uid in (data[0] or b"").decode("ascii").split():
            _, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
            for item in fetched:
                if isinstance(item, tuple):
                    yield Incoming(item[1])
            client.uid("STORE", uid, "+FLAGS", "(\\Seen)")

    try:
        yield messages()
    finally:
        with suppress(OSError, imaplib.IMAP4.error):
            client.logout()


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def open_source(spec: str, password: str = "") -> AbstractContextManager[Iterator[Incoming]]:
    """A source from one setting: an imap(s):// URL, a Maildir folder, or an mbox file."""
    if spec.startswith(("imap://", "imaps://")):
        return imap(spec, password)
    if Path(spec).is_dir():
        return maildir(spec)
    return mbox(spec)
