"""``campaignd campaign edit --capped/--defer-until`` and the same flags on ``create``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from tests.integration.test_cli_campaigns import campaign_row, engine, new_campaign, ok, refused

__all__ = ["engine"]


def test_edit_defers_and_skips_and_refuses_what_cannot_be(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path, recipients=["a@example.com"])
    deadline = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)

    shown = ok(
        "campaign",
        "edit",
        str(campaign_id),
        "--capped",
        "defer",
        "--defer-until",
        deadline.isoformat(),
    )
    assert f"capped recipients deferred until {deadline:%Y-%m-%d %H:%M:%S} UTC" in shown.stdout
    row = campaign_row(engine, campaign_id)
    assert row["capped_recipients"] == "defer"
    assert row["defer_until"].replace(tzinfo=UTC) == deadline
    assert "1 eligible (0 deferred, until" in ok("campaign", "preview", str(campaign_id)).stdout

    assert "--defer-until: 'soon' is not a time" in refused(
        "campaign", "edit", str(campaign_id), "--capped", "defer", "--defer-until", "soon"
    )
    assert "--capped: 'later' is not skip or defer" in refused(
        "campaign", "edit", str(campaign_id), "--capped", "later"
    )
    assert "--defer-until: 2020-01-01T00:00:00Z is not after now" in refused(
        "campaign", "edit", str(campaign_id), "--defer-until", "2020-01-01T00:00:00+00:00"
    )
    assert campaign_row(engine, campaign_id)["capped_recipients"] == "defer"

    ok("campaign", "edit", str(campaign_id), "--capped", "skip")
    row = campaign_row(engine, campaign_id)
    assert (row["capped_recipients"], row["defer_until"]) == ("skip", None)
    assert "--defer-until: goes with --capped defer" in refused(
        "campaign", "edit", str(campaign_id), "--defer-until", deadline.isoformat()
    )


def test_create_takes_the_flags(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    deadline = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    path = tmp_path / "campaign.json"
    path.write_text(
        '{"name": "W", "subject": "S", "textBody": "T", "organization": "acme"}', encoding="utf-8"
    )
    assert "--defer-until: required with --capped defer" in refused(
        "campaign", "create", "--from", str(path), "--capped", "defer"
    )
    created = ok(
        "campaign",
        "create",
        "--from",
        str(path),
        "--capped",
        "defer",
        "--defer-until",
        deadline.isoformat(),
    )
    row = campaign_row(engine, int(created.stdout.splitlines()[0]))
    assert row["capped_recipients"] == "defer"
    help_text = ok("campaign", "edit", "--help").stdout
    assert "--capped" in help_text and "--defer-until" in help_text
