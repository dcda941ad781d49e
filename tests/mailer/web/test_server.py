"""How `mailer web` runs uvicorn: who is trusted, and what the access log keeps."""

import dataclasses
import io
import logging
import logging.config

from mailer.web.server import uvicorn_options
from tests.mailer.web.conftest import SETTINGS


def test_forwarded_headers_are_trusted_only_when_configured() -> None:
    default = uvicorn_options(SETTINGS)
    assert default["proxy_headers"] is False and default["forwarded_allow_ips"] == []
    proxied = uvicorn_options(dataclasses.replace(SETTINGS, trusted_proxies="10.0.0.1, ::1"))
    assert proxied["proxy_headers"] is True
    assert proxied["forwarded_allow_ips"] == ["10.0.0.1", "::1"]


def test_the_access_log_never_records_tokens() -> None:
    config = uvicorn_options(SETTINGS)["log_config"]
    logging.config.dictConfig(config)
    out = io.StringIO()
    handler = logging.getLogger("uvicorn.access").handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    log = logging.getLogger("uvicorn.access")
    for path in (
        "/confirm/eyJzZWNyZXQiOjF9.abc.def",
        "/confirm/eyJzZWNyZXQiOjF9.abc.def/resend",
        "/unsubscribe/eyJzZWNyZXQiOjF9.abc.def?x=1",
        "/preferences/eyJzZWNyZXQiOjF9.abc.def",
        "/lists/news/subscribe",
    ):
        log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", path, "1.1", 200)
    text = out.getvalue()
    assert "eyJzZWNyZXQiOjF9" not in text
    assert "/confirm/[token]/resend" in text and "/unsubscribe/[token]?x=1" in text
    assert "/lists/news/subscribe" in text


def test_the_access_log_never_records_the_consoles_one_time_links() -> None:
    """An unused set-password link (valid 3 days) in a log is an account for its reader."""
    config = uvicorn_options(SETTINGS)["log_config"]
    logging.config.dictConfig(config)
    out = io.StringIO()
    handler = logging.getLogger("uvicorn.access").handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    log = logging.getLogger("uvicorn.access")
    for method, path in (
        ("GET", "/admin/password/WzEsIjc5ZWQ2M2YzYmVkMGNiYmYiXQ.awujNw.aATpR47X"),
        ("POST", "/admin/login-link/WzEsIjc5ZWQ2M2YzYmVkMGNiYmYiXQ.awujNw.aATpR47X"),
        ("GET", "/admin/issues/3"),
    ):
        log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", method, path, "1.1", 200)
    text = out.getvalue()
    assert "WzEsIjc5ZWQ2M2YzYmVkMGNiYmYiXQ" not in text
    assert "/admin/password/[token]" in text and "/admin/login-link/[token]" in text
    assert "/admin/issues/3" in text
