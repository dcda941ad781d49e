"""Times as the CLI shows them: one configured zone, always with its offset.

An abbreviation such as ``CST`` names three different zones; an offset
(``2026-12-01 09:00 +08:00``) cannot be misread. The zone is the
``timezone`` setting (``MAILER_TIMEZONE``), UTC by default.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def local_time(when: datetime, zone: str = "UTC") -> str:
    """``2026-12-01 09:00 +08:00``: ``when`` in ``zone``, with the numeric offset."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")  # +0800
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def both_zones(when: datetime, zone: str) -> str:
    """``2026-12-01 09:00 +08:00 (Asia/Shanghai) = 2026-12-01 01:00 UTC``."""
    return f"{local_time(when, zone)} ({zone}) = {local_time(when, 'UTC')[:-7]} UTC"
