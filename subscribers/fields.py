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
# CR, LF and NUL would break a header or a CSV row; ESC, BEL and the other C0
# and C1 controls (and DEL) would drive a terminal that shows the value.
# A tab is allowed in attribute values, never in a name.
CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile("[\r\n\x00]")


def control_problem(value: str) -> str | None:
    """Why ``value`` may not be stored, or None: line breaks named as such."""
    if _LINE_BREAK.search(value):
        return "contains a line break or NUL character"
    found = CONTROL.search(value)
    if found:
        return f"contains the control character U+{ord(found.group()):04X}"
    return None


def check_text(field: str, value: str) -> str:
    """Reject control characters (tab aside): see CONTROL."""
    problem = control_problem(value)
    if problem:
        raise InvalidInput(field, problem)
    return value


def check_name(value: str) -> str:
    if "\t" in value:
        raise InvalidInput("name", "contains a tab")
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
