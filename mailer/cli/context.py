"""What every command shares: settings, the engine, sessions, the console."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from mailer.db import make_engine, require_current, require_file, session_scope
from mailer.settings import Settings, load_settings


class App:
    """Loaded lazily, so `--help` and `init` work without a valid setup."""

    def __init__(
        self, config: str | None, settings: Settings | None = None, engine: Engine | None = None
    ) -> None:
        self.config = config
        self._settings = settings
        self._engine = engine
        self._checked = False
        # markup=False: a list title like "[/bold]" is text, not a style tag.
        self.out = Console(markup=False, highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def engine(self) -> Engine:
        """The engine of an existing database: a missing SQLite file is not made empty."""
        if self._engine is None:
            engine = make_engine(self.settings.database_url)
            require_file(engine)
            self._engine = engine
        return self._engine

    def new_engine(self) -> Engine:
        """The engine for `db upgrade`, which may create the database."""
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction on a database that is migrated to the current schema."""
        if not self._checked:
            require_current(self.engine)
            self._checked = True
        with session_scope(self.engine) as session:
            yield session

    @property
    def interactive(self) -> bool:
        """Progress bars only on a terminal; pipes and CI stay quiet."""
        return self.err.is_terminal


def app(ctx: click.Context | None = None) -> App:
    ctx = ctx or click.get_current_context()
    obj = ctx.find_object(App)
    assert obj is not None, "commands run under the mailer group"
    return obj


# C0, DEL and C1 controls, and the bidi overrides that reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object) -> str:
    """``value`` as text that is safe on a terminal: control characters made visible.

    Data stored before names were checked, or a reason quoting a bad cell,
    must not move the cursor, ring the bell or retitle the window.
    """
    return _CONTROL.sub(_escape, str(value))


# Inside JSON, json.dumps already escapes C0; the layout's own newlines must stay.
_JSON_CONTROL = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def json_text(data: Any, indent: int | None = 2) -> str:
    """JSON that is safe on a terminal: json escapes C0 itself, this escapes C1 and bidi."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, default=str)
    return _JSON_CONTROL.sub(_json_escape, text)


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def echo_notes(notes: tuple[str, ...]) -> None:
    """What loading an issue folder set aside (files without front matter), on stderr."""
    for note in notes:
        click.echo(f"note: {shown(note)}", err=True)
