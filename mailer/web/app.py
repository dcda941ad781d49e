"""`create_app(settings)`: the subscriber-facing FastAPI application."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy import Engine

from mailer.compose import tokens_for
from mailer.db import make_engine
from mailer.outbox import Outbox, Sender, smtp_sender
from mailer.settings import Settings
from mailer.web.bodylimit import BodySizeLimit
from mailer.web.limits import SlidingWindow
from mailer.web.security import SecurityHeaders
from subscribers.tokens import Tokens

log = logging.getLogger(__name__)


@dataclass
class WebState:
    settings: Settings
    db: Engine
    tokens: Tokens
    outbox: Outbox  # confirmations are queued here, never sent inside a request
    per_client: SlidingWindow = field(default_factory=lambda: SlidingWindow(10, 60))
    per_email: SlidingWindow = field(default_factory=lambda: SlidingWindow(3, 3600))


def create_app(settings: Settings, db: Engine | None = None, send: Sender | None = None) -> FastAPI:
    from mailer.web import archive, links, metrics, subscribe

    app = FastAPI(
        title="mailer",
        summary="Subscribe, confirm, unsubscribe, preferences, archive",
        docs_url=None,
        redoc_url=None,
    )
    engine = db or make_engine(settings.database_url)
    tokens = tokens_for(settings)
    app.state.web = WebState(
        settings=settings,
        db=engine,
        tokens=tokens,
        outbox=Outbox(engine, settings, send or smtp_sender(settings), tokens=tokens),
    )
    app.add_middleware(BodySizeLimit)
    for module in (subscribe, links, archive, metrics):
        app.include_router(module.router)
    _install_staff(app)
    app.add_middleware(SecurityHeaders)
    return app


def _install_staff(app: FastAPI) -> None:
    """The staff console (/admin) and the REST API (/api/v1)."""
    from mailer.web import admin, api
    from mailer.web.staff import staff_state

    app.state.staff = staff_state(app.state.web)
    api.install(app)
    admin.install(app)
