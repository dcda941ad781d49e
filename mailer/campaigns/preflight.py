"""Resuming a campaign through `mailer doctor`, as `send` and a campaign start do.

A paused or missed campaign that resumes may start at once (its ledger is
written in the same call), so the doctor's gate stands before it: an error
refuses unless ``force``, and a forced resume records what it overrode,
when and by whom on the campaign. A campaign already sent with --force is
not checked again, as the scheduler does not check it at its start either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.campaigns.service import CampaignError, get_campaign, resume
from mailer.doctor.findings import Finding
from mailer.settings import Settings
from subscribers.models import utcnow


class DoctorRefused(CampaignError):
    """`mailer doctor` found errors; the campaign was left as it was."""

    def __init__(self, campaign_id: int, findings: list[Finding]) -> None:
        self.campaign_id = campaign_id
        self.findings = findings
        lines = "".join(f"\n  {f.check}: {f.message}" for f in findings)
        super().__init__(
            f"mailer doctor found {len(findings)} error(s); campaign {campaign_id} "
            f"was not resumed:{lines}"
        )


def resume_checked(
    session: Session,
    settings: Settings,
    campaign_id: int,
    *,
    force: bool = False,
    by: str = "cli",
    now: datetime | None = None,
    foreground: bool = False,
) -> Campaign:
    """``resume`` behind the doctor's gate; raises DoctorRefused on an error finding.

    ``foreground``: the caller itself starts the campaign when it is due
    (`resume --wait`), not the scheduler, so it is checked now even if it
    waits. A base_url on loopback (a local test set-up) is never refused.
    """
    c = get_campaign(session, campaign_id)
    now = now or utcnow()
    checked = _sends_now(c, now) or (
        foreground and c.status in (CampaignStatus.PAUSED, CampaignStatus.MISSED)
    )
    if checked and (force or c.forced_errors is None):
        from mailer.doctor.run import gate  # dnspython: loaded only when it is needed

        report, refusal = gate(settings, force)
        if refusal is not None:
            raise DoctorRefused(c.id, report.errors)
        if force and report.errors:
            c.forced_errors = "; ".join(f"{f.check}: {f.message}" for f in report.errors)
            c.forced_at = now
            c.forced_by = by[:254]
    return resume(session, campaign_id, now)


def _sends_now(c: Campaign, now: datetime) -> bool:
    """Whether ``resume`` starts or continues sending at once. One paused before a start
    still to come only waits for it again, and the scheduler's start runs the doctor."""
    if c.status == CampaignStatus.MISSED:
        return True
    return c.status == CampaignStatus.PAUSED and (c.started_at is not None or c.scheduled_at <= now)


def forced_override(c: Campaign) -> dict[str, Any] | None:
    """What a --force overrode on this campaign, when and by whom; None if never forced."""
    if c.forced_errors is None:
        return None
    return {
        # "check: message; check: message" as `send` and `resume` wrote it; "" if no error.
        "errors": c.forced_errors,
        "at": c.forced_at.isoformat() if c.forced_at else None,
        "by": c.forced_by,
    }
