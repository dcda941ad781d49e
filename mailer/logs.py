"""Logging for the long-running commands: one line per event, text or JSON, no secrets.

MAILER_LOG_FORMAT=json writes one JSON object per line (time, level, logger,
message, and the exception when there is one). Every line, in either format,
passes the redactor first: the values of secret settings, passwords in URLs,
and the tokens in confirm/unsubscribe/preferences links are replaced before
anything is written. The scheduler's one-second sweep is logged at DEBUG;
alembic's set-up chatter ("Context impl", "setup plugin") is dropped, its
"Running upgrade" lines are kept.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from mailer.settings import Settings

MASK = "********"
# scheme://user:password@host → scheme://user:********@host
URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)", re.I)
# The token of a subscriber link: /confirm/<t>, /unsubscribe/<t>, /preferences/<t>, ?token=<t>
LINK_TOKEN = re.compile(
    r"(?P<head>/(?:confirm|unsubscribe|preferences)/)[A-Za-z0-9._~%-]{8,}"
    r"|(?P<qhead>[?&](?:token|t)=)[^&\s\"']+",
)
NOISE = (
    ("alembic.runtime.migration", "Context impl"),
    ("alembic.runtime.migration", "Will assume"),
    ("alembic.runtime.plugins", "setup plugin"),  # alembic 1.18+: seven lines at every start
)
SWEEP = "sweep (trigger"


def _redact_links(match: re.Match[str]) -> str:
    return (match.group("head") or match.group("qhead")) + MASK


class Redactor(logging.Filter):
    """Masks secrets in a record's rendered message (and in its traceback)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
        return LINK_TOKEN.sub(_redact_links, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class Quieter(logging.Filter):
    """The sweep's every-second lines go to DEBUG; alembic's setup chatter is dropped."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if any(record.name == n and str(record.msg).startswith(p) for n, p in NOISE):
            return False
        if record.name.startswith("apscheduler") and SWEEP in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.level <= logging.DEBUG
        return True


class TextFormatter(logging.Formatter):
    """Time, level, logger, message; a traceback's newlines escaped to keep one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            event["exception"] = record.exc_text
        return json.dumps(event, ensure_ascii=False)


def secret_values(settings: Settings) -> list[str]:
    return [
        str(getattr(settings, f.name))
        for f in fields(settings)
        if f.metadata.get("secret") and getattr(settings, f.name)
    ]


def make_handler(settings: Settings, stream: Any = None) -> logging.Handler:
    level = logging.getLevelName(settings.log_level.upper())
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(Quieter(level))
    handler.addFilter(Redactor(secret_values(settings)))
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    return handler


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Route every logger (uvicorn, celery, apscheduler, ours) through one handler."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = make_handler(settings, stream)
    root.addHandler(handler)
    root.setLevel(logging.getLevelName(settings.log_level.upper()))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler
