"""Fixtures of the doctor's tests: our DKIM keys, and a relay to probe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mailer.doctor.zones import Keys, make_keys
from tests.smtp_server import SmtpServer


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def relay() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
