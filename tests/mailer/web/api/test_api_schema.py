"""Schemathesis over /api/v1 with an admin token: whatever it sends, never a 5xx."""

import shutil
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from mailer.db import make_engine, session_scope
from mailer.issuestore.service import save_variant
from mailer.web.app import create_app
from subscribers.lists import create_list
from subscribers.members import add_subscriber
from tests.mailer.helpers import EXAMPLE
from tests.mailer.web.conftest import SETTINGS
from tests.mailer.web.staff import bearer, make_staff


@pytest.fixture
def api(sqlite_template: Path, tmp_path: Path) -> tuple[Any, str]:
    db = tmp_path / "api.db"
    shutil.copy(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    staff = make_staff(engine)
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter")
        add_subscriber(s, "li@example.org", "lmec-news", confirmed=True)
        save_variant(s, EXAMPLE.name, EXAMPLE.read_text(encoding="utf-8"), "test")
    app = create_app(SETTINGS, engine, send=lambda _message: None)
    api_app = next(r.app for r in app.routes if getattr(r, "path", "") == "/api/v1")  # type: ignore[attr-defined]
    return schemathesis.openapi.from_asgi("/openapi.json", api_app), staff.admin


def test_no_server_errors_with_a_token(api: tuple[Any, str]) -> None:
    schema, token = api
    operations = [result.ok() for result in schema.get_all_operations()]
    names = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {"POST /campaigns", "GET /lists", "POST /issues", "DELETE /subscribers/{email}"} <= names
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=bearer(token), checks=[not_a_server_error])

        check()
