"""`mailer worker` and the broker settings: clear errors, exit 1, no traceback."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from mailer.cli import cli
from mailer.errors import SettingsError
from mailer.settings import coordination_url, load_settings


def test_worker_without_a_broker_says_what_to_set(workdir: Path, db_url: str) -> None:
    result = CliRunner().invoke(cli, ["worker"], env={"MAILER_DATABASE_URL": db_url})
    assert result.exit_code == 1
    assert "MAILER_BROKER_URL is not set" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"MAILER_BROKER_URL": "http://example.org"}, "MAILER_BROKER_URL: expected a redis://"),
        ({"MAILER_BROKER_URL": "amqp://guest:guest@h//"}, "a RabbitMQ broker needs redis_url"),
        ({"MAILER_REDIS_URL": "memcached://x"}, "MAILER_REDIS_URL: expected a redis://"),
        ({"MAILER_CHUNK_SIZE": "0"}, "MAILER_CHUNK_SIZE: must be at least 1"),
        ({"MAILER_LOG_FORMAT": "xml"}, "MAILER_LOG_FORMAT: 'xml' is not one of text, json"),
        ({"MAILER_LOG_LEVEL": "chatty"}, "MAILER_LOG_LEVEL: 'chatty' is not one of"),
        ({"MAILER_WORKER_METRICS_PORT": "70000"}, "MAILER_WORKER_METRICS_PORT: port 70000"),
    ],
)
def test_bad_scale_settings_are_named(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ=env)
    assert problem in str(err.value)


def test_a_redis_broker_also_coordinates_and_secrets_stay_hidden() -> None:
    s = load_settings(environ={"MAILER_BROKER_URL": "redis://:pw@10.0.0.5:6379/0"})
    assert coordination_url(s) == "redis://:pw@10.0.0.5:6379/0"
    assert "pw" not in repr(s) and s.redacted()["broker_url"] == "********"
    rabbit = load_settings(
        environ={"MAILER_BROKER_URL": "amqp://u:p@h//", "MAILER_REDIS_URL": "redis://r:6379/1"}
    )
    assert coordination_url(rabbit) == "redis://r:6379/1"
    assert coordination_url(load_settings(environ={})) == ""
