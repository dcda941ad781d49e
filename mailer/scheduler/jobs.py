"""Functions APScheduler stores by reference ("module:function") and calls.

They reach the Runner of the running `mailer run` process; a job that fires
where no Runner runs does nothing (the Runner's sweep starts the campaign).
"""

from __future__ import annotations

from typing import Any

_runner: Any = None


def set_runner(runner: Any) -> None:
    global _runner
    _runner = runner


def start_campaign(campaign_id: int) -> None:
    if _runner is not None:
        _runner.start_campaign(campaign_id)


def sweep() -> None:
    if _runner is not None:
        _runner.sweep()
