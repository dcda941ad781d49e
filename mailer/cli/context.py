"""What every command shares: settings, the engine, sessions, the console."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from mailer.db import make_engine, require_current, session_scope
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
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def engine(self) -> Engine:
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


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
