"""Times in the CLI: one configured zone with its offset, never an abbreviation (issue 14)."""

import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from mailer.cli import cli
from mailer.cli.times import both_zones, local_time
from tests.mailer.helpers import EXAMPLE


def test_local_time_carries_the_offset() -> None:
    when = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert local_time(when, "Asia/Shanghai") == "2026-12-01 09:00 +08:00"
    assert local_time(when) == "2026-12-01 01:00 +00:00"
    assert local_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "America/Chicago") == (
        "2026-07-01 07:00 -05:00"
    )
    assert both_zones(when, "Asia/Shanghai") == (
        "2026-12-01 09:00 +08:00 (Asia/Shanghai) = 2026-12-01 01:00 UTC"
    )


def test_campaigns_ls_and_status_show_the_configured_zone(workdir: Path, db_url: str) -> None:
    runner = CliRunner()
    env = {
        "MAILER_DATABASE_URL": db_url,
        "MAILER_SECRET_KEY": "k",
        "MAILER_TIMEZONE": "Asia/Shanghai",
    }
    assert runner.invoke(cli, ["lists", "create", "lmec-news"], env=env).exit_code == 0
    sent = runner.invoke(
        cli,
        ["send", str(EXAMPLE), "--list", "lmec-news", "--at", "2099-12-01 09:00"],
        env=env,
    )
    assert sent.exit_code == 0, sent.output
    assert "2099-12-01 09:00 +08:00 (Asia/Shanghai) = 2099-12-01 01:00 UTC" in sent.output
    ls = runner.invoke(cli, ["campaigns", "ls"], env=env)
    assert "2099-12-01 09:00 +08:00" in ls.output, ls.output
    status = runner.invoke(cli, ["campaigns", "status", "1"], env=env)
    assert "scheduled 2099-12-01 09:00 +08:00" in status.output, status.output
    # Never an abbreviation such as CST.
    assert not re.search(r"\b(CST|PST|EST|UTC\))\b", ls.output + status.output)
