from pathlib import Path

import pytest

from mailer.errors import SettingsError
from mailer.settings import Settings, env_of, load_settings


def test_defaults_serve_a_single_machine(workdir: Path) -> None:
    s = load_settings(environ={})
    assert s.database_url == "sqlite:///./mailer.db"
    assert (s.smtp_host, s.smtp_port, s.smtp_security) == ("localhost", 25, "auto")
    assert (s.web_host, s.web_port) == ("127.0.0.1", 8000)


def test_file_then_environment(workdir: Path) -> None:
    (workdir / "mailer.toml").write_text(
        'from = "LMEC <news@example.org>"\nsmtp_port = 2525\nsecret_key = "s3cret"\n',
        encoding="utf-8",
    )
    s = load_settings(environ={"MAILER_SMTP_PORT": "587", "MAILER_SMTP_SECURITY": "starttls"})
    assert s.from_address == "LMEC <news@example.org>"
    assert (s.smtp_port, s.smtp_security, s.secret_key) == (587, "starttls", "s3cret")


def test_every_documented_name_is_read() -> None:
    names = {env_of(f) for f in Settings.__dataclass_fields__}
    assert {
        "MAILER_DATABASE_URL",
        "MAILER_SMTP_HOST",
        "MAILER_SMTP_PORT",
        "MAILER_SMTP_SECURITY",
        "MAILER_SMTP_USERNAME",
        "MAILER_SMTP_PASSWORD",
        "MAILER_FROM",
        "MAILER_BASE_URL",
        "MAILER_WEB_HOST",
        "MAILER_WEB_PORT",
        "MAILER_BOUNCE_ADDRESS",
        "MAILER_SECRET_KEY",
        "MAILER_DKIM_SELECTOR",
        "MAILER_DKIM_DOMAIN",
        "MAILER_DKIM_KEY_FILE",
        "MAILER_RATE_LIMIT",
        "MAILER_BROKER_URL",
    } <= names


def test_all_problems_reported_with_their_source(workdir: Path) -> None:
    (workdir / "cfg.toml").write_text("smtp_prot = 25\nweb_port = 99999\n", encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings("cfg.toml", environ={"MAILER_SMTP_SECURITY": "ssl"})
    assert err.value.problems == [
        "cfg.toml: unknown setting 'smtp_prot'",
    ]
    (workdir / "cfg.toml").write_text("web_port = 99999\n", encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings("cfg.toml", environ={"MAILER_SMTP_SECURITY": "ssl", "MAILER_FROM": "nobody"})
    text = str(err.value)
    assert "cfg.toml: web_port: port 99999" in text
    assert "MAILER_SMTP_SECURITY: 'ssl' is not one of auto, none, starttls, tls" in text
    assert "MAILER_FROM: 'nobody' is not an address" in text
    with pytest.raises(SettingsError, match="MAILER_RATE_LIMIT"):
        load_settings(environ={"MAILER_RATE_LIMIT": "fast"})
    with pytest.raises(SettingsError, match="no such configuration file"):
        load_settings("missing.toml", environ={})
    (workdir / "broken.toml").write_text("smtp_port = [", encoding="utf-8")
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings("broken.toml", environ={})


def test_secrets_never_in_repr() -> None:
    s = load_settings(environ={"MAILER_SMTP_PASSWORD": "hunter2", "MAILER_SECRET_KEY": "k3y"})
    assert "hunter2" not in repr(s) and "k3y" not in repr(s)
    assert s.redacted()["smtp_password"] == "********"
    assert s.smtp_password == "hunter2"


def test_deliverability_settings_are_checked(workdir: Path) -> None:
    s = load_settings(
        environ={
            "MAILER_EHLO_NAME": "mail.example.org",
            "MAILER_FEEDBACK_ID": "{campaign}:{list}:{sender}",
            "MAILER_DNS_RESOLVER": "127.0.0.1:5353",
        }
    )
    assert (s.ehlo_name, s.dns_resolver) == ("mail.example.org", "127.0.0.1:5353")
    with pytest.raises(SettingsError) as err:
        load_settings(
            environ={
                "MAILER_FEEDBACK_ID": "{campaign}:{secret_key}",
                "MAILER_DNS_RESOLVER": "127.0.0.1:dns",
                "MAILER_EHLO_NAME": "my host",
            }
        )
    text = str(err.value)
    assert "MAILER_FEEDBACK_ID: '{campaign}:{secret_key}' may use only" in text
    assert "MAILER_DNS_RESOLVER: '127.0.0.1:dns' is not a DNS server" in text
    assert "MAILER_EHLO_NAME: 'my host' is not a host name" in text
