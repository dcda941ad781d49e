"""Writing outcomes to the ledger, and the bounces they imply, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Connection, bindparam, func, or_, update
from sqlalchemy.orm import Session

from mailer.bounces.policy import Policy
from mailer.bounces.policy import record as record_bounce
from mailer.campaigns.models import Delivery
from mailer.delivery.outcomes import Outcome


def _bind(name: str, type_: Any = None) -> Any:
    return bindparam(name, type_=type_)


# One statement, compiled once: every outcome is a row of parameters.
OUTCOME = (
    update(Delivery)
    .where(Delivery.id == _bind("oid"))
    .values(
        status=_bind("status"),
        smtp_code=_bind("code"),
        smtp_reply=_bind("reply"),
        failure=_bind("failure"),
        message_id=func.coalesce(_bind("mid"), Delivery.message_id),
        next_attempt_at=_bind("nxt", Delivery.next_attempt_at.type),
        sent_at=_bind("sent", Delivery.sent_at.type),
        lease_owner=None,
        lease_until=None,
        in_doubt=or_(Delivery.in_doubt, _bind("doubt", Boolean())),
        updated_at=_bind("now", Delivery.updated_at.type),
    )
)


def outcome_params(o: Outcome, now: datetime) -> dict[str, Any]:
    """The parameters of OUTCOME for one outcome."""
    return {
        "oid": o.id,
        "status": o.status.value,
        "code": o.code,
        "reply": o.reply,
        "mid": o.message_id,
        "nxt": o.next_attempt_at or now,
        "sent": o.sent_at,
        "now": now,
        "doubt": o.in_doubt,
        "failure": o.failure.value if o.failure else None,
    }


def write_outcomes(
    conn: Connection,
    groups: Sequence[tuple[int, Sequence[Outcome], datetime]],
    policy: Policy,
) -> None:
    """Update each row with its outcome and record the bounces it implies.

    ``groups`` are (campaign id, its outcomes, when): the outcomes of several
    connections committed together (group.py), all rows in one statement.
    """
    rows = [outcome_params(o, now) for _, outcomes, now in groups for o in outcomes]
    if not rows:
        return
    conn.execute(OUTCOME, rows)
    bounces = [(cid, o.bounce, now) for cid, outcomes, now in groups for o in outcomes if o.bounce]
    if not bounces:
        return
    with Session(bind=conn) as s:  # joins the caller's transaction
        for campaign_id, (address, kind, code, reply), now in bounces:
            record_bounce(
                s,
                email=address,
                kind=kind,
                source="smtp",
                detail=f"{code} {reply}",
                campaign_id=campaign_id,
                code=code,
                policy=policy,
                now=now,
            )
        s.flush()
