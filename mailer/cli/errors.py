"""How an error reaches the user: one clear line, or a JSON object under --json.

Every message passes through ``shown``, so a value quoted from a file or the
database cannot put control characters on the terminal, and a database URL
in a driver's message never shows its password.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from mailer.cli.context import shown
from subscribers.errors import ListNotFound

_WORD = re.compile(r"(?<!^)(?=[A-Z])")


class CliError(click.ClickException):
    """A ClickException that remembers a short machine-readable code."""

    def __init__(self, message: str, code: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    def format_message(self) -> str:
        return self.message


def _code(exc: BaseException) -> str:
    """NotFound -> not_found, SettingsError -> settings: stable names for scripts."""
    name = type(exc).__name__.removesuffix("Error").removesuffix("Exception") or "error"
    return _WORD.sub("_", name).lower()


# A URL with a password inside any message (not only a settings value).
_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/\s]*@")


def _clean(message: str) -> str:
    """Line by line: the message's own line breaks stay, every other control is shown."""
    message = _URL_PASSWORD.sub(r"\1***@", message)
    return "\n".join(shown(line) for line in message.split("\n"))


def as_click_error(exc: BaseException) -> CliError:
    """The error as click prints it; the service's own errors get exit code 1."""
    if isinstance(exc, click.UsageError):
        return CliError(_clean(exc.format_message()), "usage", exc.exit_code)
    if isinstance(exc, click.ClickException):
        return CliError(_clean(exc.format_message()), "failed", exc.exit_code)
    if isinstance(exc, (OperationalError, sqlite3.OperationalError)):
        # The database went away or refused us; the driver's text says why.
        # (The delivery path on SQLite uses plain sqlite3 calls: sqlitefast.py.)
        orig = exc.orig if isinstance(exc, OperationalError) else None
        reason = str(orig or exc).strip()
        return CliError(_clean(f"the database cannot be used: {reason}"), "database")
    if isinstance(exc, ListNotFound):  # where a shell user sees the names; the API says none
        return CliError(_clean(f"{exc} (see `mailer lists ls`)"), "not_found")
    return CliError(_clean(str(exc)), _code(exc))


def cannot_write(path: object, exc: OSError) -> CliError:
    """A file or folder the user named cannot be written: say which and why, no traceback."""
    return CliError(_clean(f"cannot write {path}: {exc.strerror or exc}"), "cannot_write")


def error_object(error: CliError) -> dict[str, Any]:
    return {"error": error.format_message(), "code": error.code}


def wants_json(args: Sequence[str]) -> bool:
    """Whether --json is among the command's arguments (before any `--`)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False
