"""How `mailer web` runs uvicorn: who is trusted, and what the access log keeps."""

import dataclasses
import io
import logging

from mailer.web.server import uvicorn_options
from tests.mailer.web.conftest import SETTINGS


def test_forwarded_headers_are_trusted_only_when_configured() -> None:
    default = uvicorn_options(SETTINGS)
    assert default["proxy_headers"] is False and default["forwarded_allow_ips"] == []
    proxied = uvicorn_options(dataclasses.replace(SETTINGS, trusted_proxies="10.0.0.1, ::1"))
    assert proxied["proxy_headers"] is True
    assert proxied["forwarded_allow_ips"] == ["10.0.0.1", "::1"]


def access_log(lines: list[tuple[str, str]]) -> str:
    """What the access log keeps of these requests, through the handler mailer.logs adds."""
    assert uvicorn_options(SETTINGS)["log_config"] is None  # uvicorn's lines go through ours
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    log = logging.getLogger("uvicorn.access")
    log.addHandler(handler)
    old_level = log.level
    log.setLevel(logging.INFO)
    try:
        for method, path in lines:
            log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", method, path, "1.1", 200)
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    return out.getvalue()


def test_the_access_log_never_records_tokens() -> None:
    text = access_log(
        [
            ("GET", "/confirm/eyJzZWNyZXQiOjF9.abc.def"),
            ("GET", "/confirm/eyJzZWNyZXQiOjF9.abc.def/resend"),
            ("GET", "/unsubscribe/eyJzZWNyZXQiOjF9.abc.def?x=1"),
            ("GET", "/preferences/eyJzZWNyZXQiOjF9.abc.def"),
            ("GET", "/lists/news/subscribe"),
        ]
    )
    assert "eyJzZWNyZXQiOjF9" not in text
    assert "/confirm/[token]/resend" in text and "/unsubscribe/[token]?x=1" in text
    assert "/lists/news/subscribe" in text


def test_the_access_log_never_records_the_consoles_one_time_links() -> None:
    """An unused set-password link (valid 3 days) in a log is an account for its reader."""
    text = access_log(
        [
            ("GET", "/admin/password/WzEsIjc5ZWQ2M2YzYmVkMGNiYmYiXQ.awujNw.aATpR47X"),
            ("POST", "/admin/login-link/WzEsIjc5ZWQ2M2YzYmVkMGNiYmYiXQ.awujNw.aATpR47X"),
            ("GET", "/admin/issues/3"),
        ]
    )
    assert "WzEsIjc5ZWQ2M2YzYmVkMGNiYmYiXQ" not in text
    assert "/admin/password/[token]" in text and "/admin/login-link/[token]" in text
    assert "/admin/issues/3" in text
