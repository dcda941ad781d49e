"""Serving the app with uvicorn: alone (`mailer web`) or beside the scheduler (`mailer run`)."""

from __future__ import annotations

import threading

import uvicorn
from sqlalchemy import Engine

from mailer.settings import Settings
from mailer.web.app import create_app


class WebServer:
    """uvicorn in a thread; ``stop()`` lets requests in flight finish."""

    def __init__(self, settings: Settings, db: Engine | None = None) -> None:
        config = uvicorn.Config(
            create_app(settings, db),
            host=settings.web_host,
            port=settings.web_port,
            log_level="info",
            access_log=False,
            log_config=None,  # uvicorn's lines go through mailer.logs (format, redaction)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve(settings: Settings) -> None:
    """Run in the foreground until SIGINT/SIGTERM (uvicorn's own handlers)."""
    uvicorn.run(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        log_level="info",
        log_config=None,  # uvicorn's lines go through mailer.logs (format, redaction)
    )
