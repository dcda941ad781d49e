"""The confirmation email of double opt-in (its own template, Auto-Submitted)."""

from __future__ import annotations

import secrets
from email import message_from_bytes
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import formatdate, parseaddr

from mailer.i18n import words
from mailer.message import OutgoingMessage
from mailer.message.headers import ascii_address, clean, split_address
from mailer.render.environment import layout_environment
from mailer.settings import Settings


def _to(name: str, address: str) -> Address | str:
    """The To value; a display name is given to the header as a name, never as
    text, so ``Eve <a@evil.example>, Mallory`` is quoted and stays one recipient."""
    name = clean(name)
    if not name:
        return address
    try:
        return Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        return address


def _one_recipient(data: bytes, address: str) -> bool:
    """Whether the written To header names exactly ``address`` and nobody else."""
    try:
        parsed = message_from_bytes(data.split(b"\r\n\r\n", 1)[0], policy=default)
        found = parsed["To"].addresses
    except Exception:
        return False
    return len(found) == 1 and found[0].addr_spec.lower() == address.lower()


def confirmation_message(
    settings: Settings,
    list_title: str,
    email: str,
    name: str,
    language: str | None,
    confirm_url: str,
) -> OutgoingMessage:
    lang = (language or "en").split("-")[0]
    w = words(lang)
    context = {
        "list_title": list_title,
        "confirm_url": confirm_url,
        "name": name,
        "w": w,
        "lang": lang,
        "hours": 72,
    }
    env = layout_environment()
    text = env.get_template("email/confirm.txt").render(context)
    html = env.get_template("email/confirm.html").render(context)
    _, from_addr = parseaddr(settings.from_address)
    domain = split_address(from_addr)[1] or "localhost"
    msg = EmailMessage(policy=SMTP)
    msg["From"] = settings.from_address
    to_addr = ascii_address(email)
    msg["To"] = _to(name, to_addr or email)
    msg["Subject"] = w["confirm_subject"].format(list=list_title)
    msg["Date"] = formatdate(usegmt=True)
    message_id = f"<confirm.{secrets.token_hex(12)}@{domain}>"
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    data = msg.as_bytes(policy=SMTP.clone(utf8=to_addr is None))
    if not _one_recipient(data, to_addr or email):
        # Whatever the name did to the header, the address alone is safe.
        msg.replace_header("To", to_addr or email)
        data = msg.as_bytes(policy=SMTP.clone(utf8=to_addr is None))
    return OutgoingMessage(email, message_id, data, smtputf8=to_addr is None)
