"""`campaigns resume` (CLI, console, API) goes through `mailer doctor` as `send` does."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from mailer.campaigns.models import Campaign, CampaignStatus, Delivery
from mailer.campaigns.service import create_campaign, get_campaign
from mailer.cli import cli
from mailer.content import load_issue_set
from mailer.db import session_scope
from mailer.settings import Settings
from mailer.web.app import create_app
from subscribers.models import utcnow
from tests.dns_server import LocalDns
from tests.mailer.doctor.zones import Keys, env_of, good_settings, zone
from tests.mailer.helpers import EXAMPLE
from tests.mailer.sending import populate
from tests.mailer.web.staff import PASSWORD, bearer, make_staff
from tests.smtp_server import SmtpServer


def _missed_campaign(engine: Engine) -> int:
    """A campaign whose start passed while `mailer run` was down: resume starts it now."""
    with session_scope(engine) as s:
        c = create_campaign(s, load_issue_set(EXAMPLE), "lmec-news", utcnow() - timedelta(hours=2))
        c.status = CampaignStatus.MISSED
        return c.id


def _ledger_rows(engine: Engine, cid: int) -> int:
    with session_scope(engine) as s:
        return int(
            s.scalar(select(func.count()).select_from(Delivery).where(Delivery.campaign_id == cid))
            or 0
        )


def test_cli_resume_refuses_on_a_doctor_error_unless_forced_and_status_shows_it(
    keys: Keys, relay: SmtpServer, engine: Engine, db_url: str
) -> None:
    populate(engine, 2)
    cid = _missed_campaign(engine)
    runner = CliRunner()
    with LocalDns(zone(keys, dmarc=False)) as dns:
        env = env_of(good_settings(keys, relay, dns)) | {"MAILER_DATABASE_URL": db_url}

        def run(*args: str) -> tuple[int, str]:
            r = runner.invoke(cli, list(args), env=env)
            assert "Traceback" not in r.output, r.output
            return r.exit_code, r.output

        code, out = run("campaigns", "resume", str(cid))
        assert code == 1, out
        assert "dmarc: no DMARC record for example.org" in out and "--force" in out
        with session_scope(engine) as s:
            c = get_campaign(s, cid)
            assert (c.status, c.forced_errors, c.started_at) == ("missed", None, None)
        assert _ledger_rows(engine, cid) == 0  # nothing started

        code, out = run("campaigns", "resume", str(cid), "--force")
        assert code == 0, out
        assert "resumed despite dmarc: no DMARC record" in out
        with session_scope(engine) as s:
            c = get_campaign(s, cid)
            assert c.status == "sending" and c.forced_by == "cli"
            assert c.forced_errors is not None and c.forced_errors.startswith("dmarc: no DMARC")
            assert c.forced_at is not None and abs(c.forced_at - utcnow()) < timedelta(minutes=1)
        assert _ledger_rows(engine, cid) == 2

        code, out = run("campaigns", "status", str(cid), "--json")
        forced = json.loads(out)["forced_errors"]
        assert forced["by"] == "cli" and forced["errors"].startswith("dmarc: no DMARC record")
        assert forced["at"].startswith(str(utcnow().year))
        code, out = run("campaigns", "status", str(cid))
        assert "sent with --force past `mailer doctor`" in out and "by cli" in out
        assert "dmarc: no DMARC record" in out
    assert relay.handler.messages == []  # the doctor's probe sent nothing


def test_a_campaign_never_forced_shows_no_override(engine: Engine, db_url: str) -> None:
    populate(engine, 1)
    cid = _missed_campaign(engine)
    r = CliRunner().invoke(
        cli, ["campaigns", "status", str(cid), "--json"], env={"MAILER_DATABASE_URL": db_url}
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["forced_errors"] is None


def test_a_local_setup_resumes_with_warnings_only(
    keys: Keys, relay: SmtpServer, engine: Engine, db_url: str
) -> None:
    populate(engine, 1)
    cid = _missed_campaign(engine)
    with LocalDns(zone(keys, dmarc=False)) as dns:
        settings = replace(good_settings(keys, relay, dns), base_url="http://127.0.0.1:8000")
        env = env_of(settings) | {"MAILER_DATABASE_URL": db_url}
        r = CliRunner().invoke(cli, ["campaigns", "resume", str(cid)], env=env)
    assert r.exit_code == 0, r.output
    with session_scope(engine) as s:
        c = get_campaign(s, cid)
        assert (c.status, c.forced_errors) == ("sending", None)


def _app(settings: Settings, engine: Engine) -> TestClient:
    return TestClient(create_app(settings, engine, send=lambda _m: None), base_url="https://t")


def test_api_resume_answers_409_with_the_findings(
    keys: Keys, relay: SmtpServer, engine: Engine
) -> None:
    staff = make_staff(engine)
    populate(engine, 1)
    cid = _missed_campaign(engine)
    with (
        LocalDns(zone(keys, rsa_p=keys.other_p)) as dns,
        _app(good_settings(keys, relay, dns), engine) as c,
    ):
        r = c.post(f"/api/v1/campaigns/{cid}/resume", headers=bearer(staff.editor))
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert "not resumed" in body["detail"]
        (finding,) = body["findings"]
        assert finding["check"] == "dkim.key.mail2026" and finding["level"] == "error"
        assert "does not match" in finding["message"] and "IN TXT" in finding["fix"]
        viewer = c.post(f"/api/v1/campaigns/{cid}/resume", headers=bearer(staff.viewer))
        assert viewer.status_code == 403
    with session_scope(engine) as s:
        assert get_campaign(s, cid).status == "missed"
    assert _refusals(engine) == [("editor@example.org", str(cid), "dkim.key.mail2026")]
    # Fixed in DNS: the same request resumes it.
    with LocalDns(zone(keys)) as dns, _app(good_settings(keys, relay, dns), engine) as c:
        r = c.post(f"/api/v1/campaigns/{cid}/resume", headers=bearer(staff.editor))
        assert r.status_code == 200 and r.json()["status"] == "sending", r.text


def test_console_resume_shows_the_findings_and_changes_nothing(
    keys: Keys, relay: SmtpServer, engine: Engine
) -> None:
    make_staff(engine)
    populate(engine, 1)
    cid = _missed_campaign(engine)
    with (
        LocalDns(zone(keys, dmarc=False)) as dns,
        _app(good_settings(keys, relay, dns), engine) as c,
    ):
        form = c.get("/admin/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token
        c.post(
            "/admin/login",
            data={"email": "editor@example.org", "password": PASSWORD, "csrf": token.group(1)},
        )
        page = c.get(f"/admin/campaigns/{cid}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf and f"/admin/campaigns/{cid}/resume" in page
        r = c.post(
            f"/admin/campaigns/{cid}/resume",
            data={"csrf": csrf.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 409, r.text
        assert "Not resumed" in r.text and "no DMARC record for example.org" in r.text
        assert "_dmarc.example.org. IN TXT" in r.text  # the fix, escaped but whole
    with session_scope(engine) as s:
        c2 = get_campaign(s, cid)
        assert (c2.status, c2.forced_errors) == ("missed", None)
    assert _ledger_rows(engine, cid) == 0
    assert _refusals(engine) == [("editor@example.org", str(cid), "dmarc")]


def _refusals(engine: Engine) -> list[tuple[str, str, str]]:
    """Refused resumes in the audit log: (who, campaign, the findings' checks)."""
    from sqlalchemy import select

    from mailer.accounts.models import AuditEntry

    with session_scope(engine) as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "campaign.resume_refused")
        ).all()
        return [(r.actor, r.target, str(r.detail["findings"])) for r in rows]


def test_console_campaign_page_shows_a_forced_send(engine: Engine) -> None:
    from tests.mailer.web.conftest import SETTINGS

    make_staff(engine)
    populate(engine, 1)
    with session_scope(engine) as s:
        cid = create_campaign(
            s,
            load_issue_set(EXAMPLE),
            "lmec-news",
            utcnow() + timedelta(days=1),
            forced_errors="dmarc: no DMARC record for example.org",
        ).id
    with _app(SETTINGS, engine) as c:
        form = c.get("/admin/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token
        c.post(
            "/admin/login",
            data={"email": "viewer@example.org", "password": PASSWORD, "csrf": token.group(1)},
        )
        page = c.get(f"/admin/campaigns/{cid}").text
    assert "Sent with <code>--force</code>" in page and "by cli" in page
    assert "dmarc: no DMARC record for example.org" in page
    with session_scope(engine) as s:
        assert s.scalar(select(Campaign.forced_by).where(Campaign.id == cid)) == "cli"


def test_a_resume_that_waits_for_a_later_start(
    keys: Keys, relay: SmtpServer, engine: Engine, db_url: str
) -> None:
    """Paused before a start still to come: the scheduler's start will check it, so a plain
    resume goes through; `--wait` starts it itself, so it is checked now."""
    populate(engine, 1)
    with session_scope(engine) as s:
        c = create_campaign(s, load_issue_set(EXAMPLE), "lmec-news", utcnow() + timedelta(hours=1))
        c.status = CampaignStatus.PAUSED
        cid = c.id
    runner = CliRunner()
    with LocalDns(zone(keys, dmarc=False)) as dns:
        env = env_of(good_settings(keys, relay, dns)) | {"MAILER_DATABASE_URL": db_url}
        waited = runner.invoke(cli, ["campaigns", "resume", str(cid), "--wait"], env=env)
        assert waited.exit_code == 1 and "dmarc: no DMARC record" in waited.output
        with session_scope(engine) as s:
            assert get_campaign(s, cid).status == "paused"
        plain = runner.invoke(cli, ["campaigns", "resume", str(cid)], env=env)
        assert plain.exit_code == 0, plain.output
        assert "scheduled for" in plain.output
    with session_scope(engine) as s:
        assert get_campaign(s, cid).status == "scheduled"
