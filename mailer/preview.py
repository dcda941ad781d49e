"""Inbox previews: the real message's HTML part as Chromium shows it, and its text part.

Screenshots at a desktop reading pane (600 px), a phone (375 px) and the
desktop in dark mode (``prefers-color-scheme: dark``), taken from the bytes
that would be sent — the HTML decoded from its quoted-printable part, not a
separate render. Chromium is driven through Playwright, which is an optional
extra (``pip install "mailer[preview]"``): only this feature needs it, and it
drives the system's Chromium (Debian's ``chromium``), never a downloaded one.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from mailer.errors import MailerError


class PreviewError(MailerError):
    """Previews cannot be made here (no Playwright, no Chromium)."""


@dataclass(frozen=True)
class View:
    name: str
    width: int
    scheme: str  # "light" | "dark"


VIEWS = (View("desktop", 600, "light"), View("phone", 375, "light"), View("dark", 600, "dark"))
# Chromium as root in a container needs --no-sandbox; the rest keeps it off the network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium(given: str | None = None) -> str:
    path = (
        given
        or os.environ.get("MAILER_CHROMIUM")
        or next((p for p in map(shutil.which, CANDIDATES) if p), None)
    )
    if not path or not Path(path).exists():
        raise PreviewError(
            f"no Chromium found{f' at {given}' if given else ''}: install Debian's 'chromium' "
            "package or give --chromium PATH"
        )
    return path


def message_parts(data: bytes) -> tuple[str, str]:
    """(HTML, text) decoded from the message's own MIME parts."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    html, text = msg.get_body(("html",)), msg.get_body(("plain",))
    if html is None or text is None:
        raise PreviewError("the message has no HTML or no text part")
    return str(html.get_content()), str(text.get_content())


def write_previews(data: bytes, out: Path, chromium: str | None = None) -> list[Path]:
    """desktop.png, phone.png, dark.png, text.txt and message.eml in ``out``."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise PreviewError(
            'previews need Playwright: pip install "mailer[preview]" (it drives Chromium)'
        ) from None
    path = find_chromium(chromium)
    html, text = message_parts(data)
    written = [out / "message.eml", out / "text.txt"]
    try:
        out.mkdir(parents=True, exist_ok=True)
        written[0].write_bytes(data)
        written[1].write_text(text.replace("\r\n", "\n"), encoding="utf-8")
    except OSError as exc:  # a folder the user named: say which and why
        raise PreviewError(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=path, args=FLAGS, headless=True)
            try:
                for view in VIEWS:
                    page = browser.new_page(
                        viewport={"width": view.width, "height": 800},
                        color_scheme=view.scheme,  # type: ignore[arg-type]
                    )
                    page.set_default_timeout(30_000)
                    page.set_content(html, wait_until="load")
                    shot = out / f"{view.name}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    page.close()
                    written.append(shot)
            finally:
                browser.close()
    except Error as exc:
        raise PreviewError(f"Chromium failed: {str(exc).splitlines()[0]}") from None
    return written
