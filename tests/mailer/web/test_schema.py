"""Property test of the JSON endpoints against the app's own OpenAPI schema:
whatever schemathesis sends, the app never answers 5xx."""

import shutil
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from mailer.db import make_engine, session_scope
from mailer.web.app import create_app
from subscribers.lists import create_list
from tests.mailer.web.conftest import SETTINGS


@pytest.fixture
def api_schema(sqlite_template: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    db = tmp_path / "schema.db"
    shutil.copy(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    with session_scope(engine) as s:
        create_list(s, "lmec-news", title="LMEC Newsletter")
        create_list(s, "open", double_opt_in=False)
    app = create_app(SETTINGS, engine, send=lambda _message: None)
    app.state.web.per_client.limit = 10**9  # let the fuzzer reach the handlers
    app.state.web.per_email.limit = 10**9
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /api/lists/{slug}/subscribe",
        "GET /healthz",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        check()


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_body = st.fixed_dictionaries(
    {},
    optional={
        "email": st.text(max_size=400) | st.emails() | _json,
        "name": st.text(max_size=250) | _json,
        "language": st.text(max_size=40) | _json,
    },
)


def test_subscribe_api_on_a_real_list_never_fails(api_schema: schemathesis.BaseSchema) -> None:
    """Schemathesis rarely guesses a list that exists; here every body hits a real one."""
    from fastapi.testclient import TestClient

    client = TestClient(api_schema.app)
    seen: set[int] = set()

    @given(body=_body, slug=st.sampled_from(["lmec-news", "open"]))
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    def check(body: dict[str, object], slug: str) -> None:
        r = client.post(f"/api/lists/{slug}/subscribe", json=body)
        assert r.status_code < 500, (body, r.text)
        seen.add(r.status_code)

    check()
    assert {202, 422} <= seen  # both accepted and refused bodies were exercised
