"""`create_app(settings)`: the subscriber-facing FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy import Engine

from mailer.compose import tokens_for
from mailer.db import make_engine
from mailer.delivery.engine import envelope_sender
from mailer.message import OutgoingMessage
from mailer.settings import Settings
from mailer.transport.smtp import SmtpConnection, smtp_config
from mailer.web.limits import SlidingWindow
from subscribers.tokens import Tokens

log = logging.getLogger(__name__)
Sender = Callable[[OutgoingMessage], None]


@dataclass
class WebState:
    settings: Settings
    db: Engine
    tokens: Tokens
    send: Sender
    per_client: SlidingWindow = field(default_factory=lambda: SlidingWindow(10, 60))
    per_email: SlidingWindow = field(default_factory=lambda: SlidingWindow(3, 3600))


def smtp_sender(settings: Settings) -> Sender:
    """Send one message (a confirmation) over its own SMTP session."""

    def send(message: OutgoingMessage) -> None:
        conn = SmtpConnection(smtp_config(settings))
        try:
            conn.send(
                envelope_sender(settings), message.envelope_to, message.data, message.smtputf8
            )
        finally:
            conn.close()

    return send


def create_app(settings: Settings, db: Engine | None = None, send: Sender | None = None) -> FastAPI:
    from mailer.web import archive, links, metrics, subscribe

    app = FastAPI(
        title="mailer",
        summary="Subscribe, confirm, unsubscribe, preferences, archive",
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = WebState(
        settings=settings,
        db=db or make_engine(settings.database_url),
        tokens=tokens_for(settings),
        send=send or smtp_sender(settings),
    )
    for module in (subscribe, links, archive, metrics):
        app.include_router(module.router)
    return app
