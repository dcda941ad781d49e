from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mailer.campaigns import service
from mailer.campaigns.models import CampaignStatus
from mailer.campaigns.report import report
from mailer.db import session_scope
from subscribers.members import add_subscriber, suppress, unsubscribe
from subscribers.models import utcnow
from tests.mailer.sending import ledger, new_campaign, populate


def test_start_writes_one_row_per_confirmed_unsuppressed_subscriber(engine: Engine) -> None:
    populate(engine, 5)
    with session_scope(engine) as s:
        add_subscriber(s, "pending@example.org", "lmec-news")  # unconfirmed (double opt-in)
        add_subscriber(s, "left@example.org", "lmec-news", confirmed=True)
        unsubscribe(s, "left@example.org", "lmec-news")
        suppress(s, "u3@example.org")
    cid = new_campaign(engine)
    rows = ledger(engine, cid)
    assert len(rows) == 4
    assert {r.status for r in rows} == {"queued"} and all(r.attempts == 0 for r in rows)
    with session_scope(engine) as s:
        c = service.get_campaign(s, cid)
        assert c.status == CampaignStatus.SENDING and c.started_at is not None
        with pytest.raises(service.CampaignError, match="not waiting to start"):
            service.start_campaign(s, c)
        found = report(s, cid)
    assert found.summary() == {
        "campaign": cid,
        "recipients": 4,
        "sent": 0,
        "failed": 0,
        "deferred": 0,
        "skipped": 0,
        "in_doubt": 0,
        "blocked": 0,
    }


def test_each_subscriber_gets_their_language_variant(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text("---\nsubject: News\nslug: n\n---\nHello\n", encoding="utf-8")
    (tmp_path / "n.zh.md").write_text(
        "---\nsubject: 新闻\nslug: n\nlanguage: zh\n---\n你好\n", encoding="utf-8"
    )
    populate(engine, 0)
    with session_scope(engine) as s:
        for email, lang in [
            ("a@example.org", "zh-CN"),
            ("b@example.org", "zh"),
            ("c@example.org", "th"),
            ("d@example.org", ""),
        ]:
            add_subscriber(s, email, "lmec-news", language=lang, confirmed=True)
    cid = new_campaign(engine, issue=str(tmp_path / "n.md"))
    assert [r.language for r in ledger(engine, cid)] == ["zh", "zh", "en", "en"]


def test_same_issue_to_same_list_needs_force(engine: Engine) -> None:
    populate(engine, 1)
    first = new_campaign(engine)
    with pytest.raises(service.CampaignError, match=f"as campaign {first}; use --force"):
        new_campaign(engine)
    assert new_campaign(engine, force=True) != first
    with session_scope(engine) as s:
        service.cancel(s, first)


def test_pause_resume_cancel_and_missed(engine: Engine) -> None:
    populate(engine, 3)
    cid = new_campaign(engine)
    with session_scope(engine) as s:
        assert service.pause(s, cid).status == "paused"
        assert service.resume(s, cid).status == "sending"
        service.cancel(s, cid)
    assert {r.status for r in ledger(engine, cid)} == {"skipped"}
    with (
        pytest.raises(service.CampaignError, match="cannot be resumed"),
        session_scope(engine) as s,
    ):
        service.resume(s, cid)
    late = new_campaign(engine, start=False, when=utcnow() - timedelta(hours=2), force=True)
    soon = new_campaign(engine, start=False, when=utcnow() - timedelta(minutes=5), force=True)
    with session_scope(engine) as s:
        assert service.mark_missed(s, timedelta(hours=1)) == [late]
        assert service.due_campaigns(s, timedelta(hours=1)) == [soon]
        assert service.resume(s, late).status == "sending"  # starts it now
    assert len(ledger(engine, late)) == 3


def test_pause_and_resume_keep_a_future_campaigns_time(engine: Engine) -> None:
    populate(engine, 2)
    when = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    cid = new_campaign(engine, start=False, when=when)
    with session_scope(engine) as s:
        service.pause(s, cid)
        c = service.resume(s, cid)
        assert (c.status, c.scheduled_at) == ("scheduled", when)
        # Resuming a campaign that is only scheduled leaves it scheduled.
        assert (service.resume(s, cid).status, c.scheduled_at) == ("scheduled", when)
        assert service.due_campaigns(s, timedelta(hours=1)) == []
    assert ledger(engine, cid) == []
    # Paused until after its time: resume starts it, and the schedule stays on record.
    with session_scope(engine) as s:
        service.pause(s, cid)
        c = service.resume(s, cid, now=when + timedelta(hours=2))
        assert (c.status, c.scheduled_at) == ("sending", when)
    assert len(ledger(engine, cid)) == 2


def test_resume_clears_the_reason_a_campaign_paused_itself(engine: Engine) -> None:
    from mailer.delivery.store import DeliveryStore

    populate(engine, 1)
    cid = new_campaign(engine)
    assert DeliveryStore(engine).pause(cid, "relay refused sender (553 5.7.1 no)")
    with session_scope(engine) as s:
        assert report(s, cid).state == "paused: relay refused sender (553 5.7.1 no)"
        service.resume(s, cid)
        assert report(s, cid).state == "sending"
