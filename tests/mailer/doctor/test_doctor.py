"""`mailer doctor` against a real DNS server on loopback, with good and broken zones."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailer.cli import cli
from mailer.doctor import Level, Report
from mailer.doctor.run import diagnose
from mailer.settings import Settings
from tests.dns_server import LocalDns, txt
from tests.mailer.helpers import EXAMPLE
from tests.smtp_server import SmtpServer


@dataclass(frozen=True)
class Keys:
    rsa_file: Path
    rsa_p: str
    ed_file: Path
    ed_p: str
    other_p: str  # someone else's key


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _spki(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("keys")
    ours = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed = ed25519.Ed25519PrivateKey.generate()
    (d / "rsa.pem").write_bytes(_pem(ours))
    (d / "ed.pem").write_bytes(_pem(ed))
    raw = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Keys(
        d / "rsa.pem", _spki(ours), d / "ed.pem", base64.b64encode(raw).decode(), _spki(other)
    )


def zone(keys: Keys, *, rsa_p: str | None = None, dmarc: bool = True) -> str:
    lines = [
        f"mail2026._domainkey.example.org. 300 IN TXT {txt('v=DKIM1; k=rsa; p=' + (rsa_p or keys.rsa_p))}",
        f"ed2026._domainkey.example.org. 300 IN TXT {txt('v=DKIM1; k=ed25519; p=' + keys.ed_p)}",
        'example.org. 300 IN TXT "v=spf1 mx a ~all"',
        "example.org. 300 IN MX 10 mail.example.org.",
        "mail.example.org. 300 IN A 192.0.2.25",
        'other-esp.net. 300 IN TXT "v=spf1 include:_spf.other-esp.net ~all"',
        "other-esp.net. 300 IN MX 10 mx.other-esp.net.",
    ]
    if dmarc:
        lines.append(
            '_dmarc.example.org. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"'
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def relay() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def good_settings(keys: Keys, relay: SmtpServer, dns: LocalDns) -> Settings:
    return Settings(
        from_address="LMEC <news@example.org>",
        base_url="https://news.example.org",
        secret_key="s" * 32,
        organization="LMEC",
        postal_address="No.5 Houyingfang Hutong, Beijing",
        dkim_selector="mail2026",
        dkim_domain="example.org",
        dkim_key_file=str(keys.rsa_file),
        dkim_ed25519_selector="ed2026",
        dkim_ed25519_key_file=str(keys.ed_file),
        bounce_address="bounces@example.org",
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_security="auto",
        smtp_timeout=5,
        ehlo_name="mail.example.org",
        dns_resolver=dns.address,
    )


def by_check(report: Report) -> dict[str, object]:
    return {f.check: f for f in report.findings}


def test_a_good_zone_passes_every_check(keys: Keys, relay: SmtpServer) -> None:
    with LocalDns(zone(keys)) as dns:
        report = diagnose(good_settings(keys, relay, dns))
    assert [str(f) for f in report.findings if f.level != Level.OK] == []
    checks = {f.check for f in report.findings}
    assert {
        "base_url",
        "secret_key",
        "organization",
        "postal_address",
        "dkim.key.mail2026",
        "dkim.key.ed2026",
        "dkim.aligned",
        "spf",
        "return_path.aligned",
        "dmarc",
        "bounce.mx",
        "relay.ehlo",
        "relay.tls",
        "ehlo_name",
    } <= checks
    dmarc = next(f for f in report.findings if f.check == "dmarc")
    assert "p=quarantine" in dmarc.message
    assert relay.handler.messages == []  # the relay probe sends no mail


def test_a_dkim_record_that_does_not_match_our_key(keys: Keys, relay: SmtpServer) -> None:
    with LocalDns(zone(keys, rsa_p=keys.other_p)) as dns:
        report = diagnose(good_settings(keys, relay, dns))
    (error,) = report.errors
    assert error.check == "dkim.key.mail2026" and "does not match" in error.message
    # The fix is the exact record, made from our configured key.
    assert "mail2026._domainkey.example.org. IN TXT" in error.fix
    assert "".join(error.fix.split('"')[1::2]) == f"v=DKIM1; k=rsa; p={keys.rsa_p}"
    assert by_check(report)["dkim.key.ed2026"].level == Level.OK  # type: ignore[attr-defined]


def test_no_dmarc_record(keys: Keys, relay: SmtpServer) -> None:
    with LocalDns(zone(keys, dmarc=False)) as dns:
        report = diagnose(good_settings(keys, relay, dns))
    (error,) = report.errors
    assert error.check == "dmarc"
    assert error.fix == (
        'publish: _dmarc.example.org. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@example.org"'
    )


def test_a_misaligned_return_path(keys: Keys, relay: SmtpServer) -> None:
    with LocalDns(zone(keys)) as dns:
        settings = replace(good_settings(keys, relay, dns), bounce_address="bounces@other-esp.net")
        report = diagnose(settings)
    (error,) = report.errors
    assert error.check == "return_path.aligned" and "other-esp.net" in error.message
    assert 'bounce_address = "bounces@example.org"' in error.fix
    # A subdomain of the From domain aligns (relaxed).
    with LocalDns(
        zone(keys)
        + "bounce.example.org. 300 IN MX 10 mail.example.org.\n"
        + 'bounce.example.org. 300 IN TXT "v=spf1 mx ~all"\n'
    ) as dns:
        settings = replace(good_settings(keys, relay, dns), bounce_address="b@bounce.example.org")
        assert diagnose(settings).errors == []


def test_an_http_base_url(keys: Keys, relay: SmtpServer) -> None:
    with LocalDns(zone(keys)) as dns:
        settings = replace(good_settings(keys, relay, dns), base_url="http://news.example.org")
        report = diagnose(settings)
    (error,) = report.errors
    assert error.check == "base_url" and "https" in error.message
    assert error.fix.startswith('set base_url = "https://news.example.org"')


def test_misaligned_dkim_domain_and_missing_footer_and_dead_dns(
    keys: Keys, relay: SmtpServer
) -> None:
    with LocalDns(zone(keys)) as dns:
        settings = replace(
            good_settings(keys, relay, dns),
            from_address="news@example.com",
            postal_address="",
            ehlo_name="localhost",
        )
        report = diagnose(settings)
    checks = by_check(report)
    assert checks["dkim.aligned"].level == Level.ERROR  # type: ignore[attr-defined]
    assert checks["postal_address"].level == Level.ERROR  # type: ignore[attr-defined]
    assert checks["ehlo_name"].level == Level.WARNING  # type: ignore[attr-defined]
    # A DNS server that does not answer is an error of its own, not "no record".
    dead = replace(good_settings(keys, relay, LocalDns("")), dns_resolver="127.0.0.1:9")
    report = diagnose(dead)
    assert any("did not answer" in f.message for f in report.errors)


def test_a_loopback_base_url_is_a_local_setup_with_warnings_only(
    keys: Keys, relay: SmtpServer
) -> None:
    with LocalDns(zone(keys, dmarc=False)) as dns:
        settings = replace(good_settings(keys, relay, dns), base_url="http://127.0.0.1:8000")
        report = diagnose(settings)
    assert report.local and report.errors == []
    assert {f.check for f in report.warnings} >= {"base_url", "dmarc"}


def test_doctor_command_prints_fixes_and_json(
    keys: Keys, relay: SmtpServer, tmp_path: Path
) -> None:
    with LocalDns(zone(keys, dmarc=False)) as dns:
        env = _env(good_settings(keys, relay, dns))
        runner = CliRunner()
        text = runner.invoke(cli, ["doctor"], env=env)
        assert text.exit_code == 1, text.output
        assert "error dmarc: no DMARC record" in text.output
        assert "[bold]" not in text.output and "[red]" not in text.output  # markup, not text
        assert 'fix: publish: _dmarc.example.org. IN TXT "v=DMARC1; p=none' in text.output
        out = runner.invoke(cli, ["doctor", "--json", "--resolver", dns.address], env=env)
        data = json.loads(out.output)
        assert out.exit_code == 1 and data["errors"] == 1 and not data["ok"]
    bad = runner.invoke(cli, ["doctor", "--resolver", "nowhere:port"], env=env)
    assert bad.exit_code == 2 and "--resolver" in bad.output and "Traceback" not in bad.output


def _env(s: Settings) -> dict[str, str]:
    return {
        "MAILER_FROM": s.from_address,
        "MAILER_BASE_URL": s.base_url,
        "MAILER_SECRET_KEY": s.secret_key,
        "MAILER_ORGANIZATION": s.organization,
        "MAILER_POSTAL_ADDRESS": s.postal_address,
        "MAILER_DKIM_SELECTOR": s.dkim_selector,
        "MAILER_DKIM_DOMAIN": s.dkim_domain,
        "MAILER_DKIM_KEY_FILE": s.dkim_key_file,
        "MAILER_DKIM_ED25519_SELECTOR": s.dkim_ed25519_selector,
        "MAILER_DKIM_ED25519_KEY_FILE": s.dkim_ed25519_key_file,
        "MAILER_BOUNCE_ADDRESS": s.bounce_address,
        "MAILER_SMTP_HOST": s.smtp_host,
        "MAILER_SMTP_PORT": str(s.smtp_port),
        "MAILER_SMTP_SECURITY": s.smtp_security,
        "MAILER_EHLO_NAME": s.ehlo_name,
        "MAILER_DNS_RESOLVER": s.dns_resolver,
    }


def test_send_refuses_on_a_doctor_error_unless_forced(
    keys: Keys, relay: SmtpServer, workdir: Path, db_url: str
) -> None:
    from sqlalchemy import create_engine, select

    from mailer.campaigns.models import Campaign

    runner = CliRunner()
    with LocalDns(zone(keys, dmarc=False)) as dns:
        env = _env(good_settings(keys, relay, dns)) | {"MAILER_DATABASE_URL": db_url}

        def run(*args: str) -> tuple[int, str]:
            r = runner.invoke(cli, list(args), env=env)
            assert "Traceback" not in r.output, r.output
            return r.exit_code, r.output

        assert run("lists", "create", "lmec-news")[0] == 0
        assert (
            run("subscribers", "add", "a@example.org", "--list", "lmec-news", "--confirmed")[0] == 0
        )
        code, out = run("send", str(EXAMPLE), "--list", "lmec-news", "--now")
        assert code == 1 and "dmarc: no DMARC record for example.org" in out and "--force" in out
        engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as c:
            assert c.execute(select(Campaign.id)).all() == []  # nothing recorded
        code, out = run("send", str(EXAMPLE), "--list", "lmec-news", "--now", "--wait", "--force")
        assert code == 0, out
        with engine.connect() as c:
            (forced,) = c.execute(select(Campaign.forced_errors)).scalars().all()
        engine.dispose()
    assert forced is not None and forced.startswith("dmarc: no DMARC record")
    assert [m.rcpt for m in relay.handler.messages] == ["a@example.org"]


def test_a_scheduled_start_is_refused_and_paused_unless_forced(
    keys: Keys, relay: SmtpServer, engine: object
) -> None:
    from mailer.campaigns.service import create_campaign, get_campaign
    from mailer.content import load_issue_set
    from mailer.db import session_scope
    from mailer.delivery.engine import DeliveryEngine
    from mailer.scheduler.runner import Runner
    from mailer.transport.memory import MemoryTransport
    from subscribers.models import utcnow
    from tests.mailer.sending import populate

    populate(engine, 2)  # type: ignore[arg-type]
    with session_scope(engine) as s:  # type: ignore[arg-type]
        plain = create_campaign(s, load_issue_set(EXAMPLE), "lmec-news", utcnow()).id
        forced = create_campaign(
            s, load_issue_set(EXAMPLE), "lmec-news", utcnow(), force=True, forced_errors="dmarc"
        ).id
    transport = MemoryTransport()
    with LocalDns(zone(keys, dmarc=False)) as dns:
        settings = good_settings(keys, relay, dns)
        deliver = DeliveryEngine(engine, settings, lambda: transport, envelope_from="b@example.org")  # type: ignore[arg-type]
        runner = Runner(engine, settings, deliver)  # type: ignore[arg-type]
        runner.start_campaign(plain)
        runner.start_campaign(forced)
        for thread in list(runner._threads.values()):
            thread.join(30)
    with session_scope(engine) as s:  # type: ignore[arg-type]
        assert get_campaign(s, plain).status == "paused"
        assert get_campaign(s, plain).started_at is None
        assert get_campaign(s, forced).status == "finished"
    assert len(transport.sent) == 2


def test_the_relay_probe_checks_starttls_and_auth(keys: Keys, tmp_path: Path) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.smtp_server import self_signed_context

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"right"
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535

    with (
        SmtpServer(tls_context=self_signed_context(tmp_path), authenticator=authenticator) as relay,
        LocalDns(zone(keys)) as dns,
    ):
        base = replace(good_settings(keys, relay, dns), smtp_username="mailer")
        right = by_check(diagnose(replace(base, smtp_password="right")))
        wrong = by_check(diagnose(replace(base, smtp_password="wrong")))
        none = by_check(diagnose(replace(base, smtp_password="right", smtp_security="none")))
        strict = by_check(diagnose(replace(base, smtp_password="right", smtp_security="starttls")))
        assert relay.handler.messages == []
    assert right["relay.tls"].level == Level.OK and right["relay.auth"].level == Level.OK  # type: ignore[attr-defined]
    assert wrong["relay.auth"].level == Level.ERROR  # type: ignore[attr-defined]
    assert "refused our AUTH as mailer" in wrong["relay.auth"].message  # type: ignore[attr-defined]
    assert none["relay.tls"].level == Level.WARNING  # type: ignore[attr-defined]
    assert none["relay.tls"].fix.startswith('set smtp_security = "auto"')  # type: ignore[attr-defined]
    # starttls verifies the certificate: a self-signed one is an error, named.
    assert strict["relay.session"].level == Level.ERROR  # type: ignore[attr-defined]
    assert "certificate" in strict["relay.session"].message  # type: ignore[attr-defined]
    with SmtpServer() as plain:
        unreachable = replace(base, smtp_port=plain.port + 0)
    report = diagnose(replace(unreachable, dns_resolver="127.0.0.1:9"))
    assert by_check(report)["relay.connect"].level == Level.ERROR  # type: ignore[attr-defined]
