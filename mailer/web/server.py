"""Serving the app with uvicorn: alone (`mailer web`) or beside the scheduler (`mailer run`)."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from mailer.outbox import OutboxWorker
from mailer.settings import Settings
from mailer.web.app import create_app

# The console's one-time links too: an unused set-password link is an account.
_TOKEN_PATH = re.compile(
    r"^/(confirm|unsubscribe|preferences|admin/password|admin/login-link)/[^/?#]+"
)


class RedactTokens(logging.Filter):
    """Takes the tokens out of access-log lines: a logged link is a usable link."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = _TOKEN_PATH.sub(r"/\1/[token]", args[2])
            record.args = (*args[:2], path, *args[3:])
        return True


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """X-Forwarded-For is believed only from MAILER_TRUSTED_PROXIES.

    uvicorn's own default trusts 127.0.0.1, so anyone reaching the app through
    a local hop (or directly on loopback) could name any client address and
    walk around the per-client rate limit.
    """
    trusted = settings.trusted_proxy_list()
    return {
        "host": settings.web_host,
        "port": settings.web_port,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or [],
        "server_header": False,
        # uvicorn's lines go through mailer.logs (text or JSON, secrets redacted);
        # the access log's tokens are taken out by the filter on its logger.
        "log_config": None,
    }


logging.getLogger("uvicorn.access").addFilter(RedactTokens())


class WebServer:
    """uvicorn in a thread; ``stop()`` lets requests in flight finish.

    The confirmations the app queues are sent by whoever runs this (the
    Runner of `mailer run`), not by the server itself.
    """

    def __init__(self, settings: Settings, db: Engine | None = None) -> None:
        self.app: FastAPI = create_app(settings, db)
        config = uvicorn.Config(
            self.app, log_level="info", access_log=False, **uvicorn_options(settings)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve(settings: Settings) -> None:
    """Run in the foreground until SIGINT/SIGTERM (uvicorn's own handlers),
    sending the confirmations the app queues meanwhile."""
    app = create_app(settings)
    worker = OutboxWorker(app.state.web.outbox)
    worker.start()
    try:
        uvicorn.run(app, log_level="info", **uvicorn_options(settings))
    finally:
        worker.stop()
