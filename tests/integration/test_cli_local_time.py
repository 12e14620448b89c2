"""``campaignd campaign schedule --local-time ... --timezone ... --send-window ...``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from tests.integration.test_cli_campaigns import campaign_row, engine, new_campaign, ok, refused

__all__ = ["engine"]

RECIPIENTS = [
    {"email": "tokyo@example.org", "vars": {"timezone": "Asia/Tokyo"}},
    {"email": "ny@example.org", "vars": {"timezone": "America/New_York"}},
]


def test_schedule_at_a_local_time_with_a_send_window(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = str(new_campaign(tmp_path, recipients=RECIPIENTS))
    result = ok(
        "campaign",
        "schedule",
        campaign_id,
        "--local-time",
        "2099-12-10T09:00",
        "--timezone",
        "Europe/Berlin",
        "--send-window",
        "08:00-20:00/mon,tue,wed,thu,fri",
    )
    output = " ".join(result.output.split())
    assert "wave Asia/Tokyo: 2099-12-10T09:00 local" in output
    assert "wave America/New_York" in output
    row = campaign_row(engine, int(campaign_id))
    assert row["local_time"] == "2099-12-10T09:00"
    assert row["timezone"] == "Europe/Berlin"
    assert row["send_window"] == {
        "start": "08:00",
        "end": "20:00",
        "days": ["mon", "tue", "wed", "thu", "fri"],
    }
    scheduled = row["scheduled_for"]
    scheduled = scheduled if scheduled.tzinfo else scheduled.replace(tzinfo=UTC)
    assert scheduled == datetime(2099, 12, 10, 0, 0, tzinfo=UTC)  # Tokyo's 09:00


def test_schedule_refuses_mixed_or_bad_options(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = str(new_campaign(tmp_path, recipients=RECIPIENTS))
    assert "either --at or --local-time" in refused("campaign", "schedule", campaign_id)
    assert "--send-window" in refused(
        "campaign",
        "schedule",
        campaign_id,
        "--local-time",
        "2099-12-10T09:00",
        "--send-window",
        "20:00-08:00",
    )
    assert "timezone" in refused(
        "campaign", "schedule", campaign_id, "--local-time", "2099-12-10T09:00", "--timezone", "X/Y"
    )
    assert campaign_row(engine, int(campaign_id))["status"] == "draft"
