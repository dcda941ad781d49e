"""Where the templates/ and migrations/ folders are.

In a built wheel they are carried inside the package (mailer/_data); in a
source checkout or editable install they sit at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mailer's {name}/ folder is missing from this installation")


def templates_dir() -> Path:
    return _find("templates")


def migrations_dir() -> Path:
    return _find("migrations")


def examples_dir() -> Path:
    return _find("examples")
