"""`mailer doctor` against a real DNS server on loopback, with good and broken zones."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from mailer.cli import cli
from mailer.doctor import Level, Report
from mailer.doctor.run import diagnose
from tests.dns_server import LocalDns
from tests.mailer.doctor.zones import Keys, env_of, good_settings, zone
from tests.mailer.helpers import EXAMPLE
from tests.smtp_server import SmtpServer


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
        env = env_of(good_settings(keys, relay, dns))
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


def test_send_refuses_on_a_doctor_error_unless_forced(
    keys: Keys, relay: SmtpServer, workdir: Path, db_url: str
) -> None:
    from sqlalchemy import create_engine, select

    from mailer.campaigns.models import Campaign

    runner = CliRunner()
    with LocalDns(zone(keys, dmarc=False)) as dns:
        env = env_of(good_settings(keys, relay, dns)) | {"MAILER_DATABASE_URL": db_url}

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
