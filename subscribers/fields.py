"""Checks for the personal fields of a subscriber, shared by every way in."""

from __future__ import annotations

import re

from subscribers.errors import InvalidInput

MAX_NAME = 200
MAX_ATTR_KEY = 64
MAX_ATTR_VALUE = 1000
# BCP 47 in the shape mail clients send: en, zh, zh-CN, zh-Hans-CN, pt-BR.
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}")
_ATTR_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_FORBIDDEN = ("\r", "\n", "\x00")


def check_text(field: str, value: str) -> str:
    """Reject CR, LF and NUL: they would break a header or a CSV row later."""
    if any(ch in value for ch in _FORBIDDEN):
        raise InvalidInput(field, "contains a line break or NUL character")
    return value


def check_name(value: str) -> str:
    value = check_text("name", value).strip()
    if len(value) > MAX_NAME:
        raise InvalidInput("name", f"is {len(value)} characters long (at most {MAX_NAME})")
    return value


def check_language(value: str) -> str | None:
    value = check_text("language", value).strip()
    if not value:
        return None
    if not _LANGUAGE.fullmatch(value):
        raise InvalidInput("language", f"{value!r} is not a language tag such as en or zh-CN")
    primary, _, rest = value.partition("-")
    return primary.lower() + ("-" + rest if rest else "")


def attribute_key(raw: str) -> str:
    """Column headers and --attr names become JSON keys: keep them plain."""
    key = raw.strip().replace(" ", "_").replace("-", "_")
    if not _ATTR_KEY.fullmatch(key):
        raise InvalidInput(
            f"attribute {raw!r}",
            "names must be letters, digits and underscores, starting with a letter",
        )
    return key


def check_attribute(key: str, value: str) -> str:
    value = check_text(key, value)
    if len(value) > MAX_ATTR_VALUE:
        raise InvalidInput(key, f"is {len(value)} characters long (at most {MAX_ATTR_VALUE})")
    return value
