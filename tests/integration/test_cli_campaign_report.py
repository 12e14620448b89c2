"""``campaignd campaign report`` and ``compare`` against a real SQLite file and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import email
import email.policy
import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from campaignd.actions.tracking import Tracker
from campaignd.cli import app
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import campaigns
from tests.integration.delivery_support import organization, sending_campaign, worker
from tests.integration.tracking_support import BROWSER


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(app, list(arguments))


async def sent_and_clicked(database_url: str, settings: Settings) -> int:
    """A campaign of acme sent to two addresses (to .eml files); ada clicks its link."""
    database = Database(database_url)
    try:
        organization_id = await organization(database)
        campaign_id = await sending_campaign(
            database,
            settings,
            ["ada@example.org", "bob@example.org"],
            organization_id=organization_id,
            html_body='<p><a href="https://shop.example/">Shop</a> {{ name }}</p>',
        )
        async with database.transaction() as connection:
            await connection.execute(
                update(campaigns).where(campaigns.c.id == campaign_id).values(track_clicks=True)
            )
        await worker(database, settings).run_burst()
        outbox = Path(settings.email_transport.removeprefix("file://"))
        for path in outbox.iterdir():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == "ada@example.org":
                html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
                token = re.search(r"/c/([A-Za-z0-9_.-]+)", html).group(1)  # type: ignore[union-attr]
        tracker = Tracker(database, clock=lambda: time.time() + 60)
        url = await tracker.click(token, user_agent=BROWSER, address="192.0.2.1")
        assert url == "https://shop.example/"
        return campaign_id
    finally:
        await database.dispose()


@pytest.fixture
def campaign_id(
    database_url: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> int:
    found = asyncio.run(sent_and_clicked(database_url, settings))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAMPAIGND_DATABASE_URL", database_url)
    monkeypatch.setenv("CAMPAIGND_EMAIL_TRANSPORT", settings.email_transport)
    monkeypatch.delenv("CAMPAIGND_REDIS_URL", raising=False)
    return found


def test_report_prints_the_figures(campaign_id: int) -> None:
    result = invoke("campaign", "report", str(campaign_id), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["outcomes"]["sent"] == 2
    assert document["engagement"]["uniqueClicks"] == 1
    assert document["engagement"]["clickThroughRate"] == 0.5
    assert document["links"] == [
        {"index": 0, "url": "https://shop.example/", "clicks": 1, "uniqueClicks": 1}
    ]
    table = invoke("campaign", "report", str(campaign_id))
    assert table.exit_code == 0, table.output
    assert "click-through rate" in table.stdout and "50.0%" in table.stdout
    missing = invoke("campaign", "report", "999999")
    assert missing.exit_code != 0 and "not found" in missing.output


def test_report_writes_the_outcomes_as_csv(campaign_id: int, tmp_path: Path) -> None:
    target = tmp_path / "outcomes.csv"
    result = invoke("campaign", "report", str(campaign_id), "--csv", str(target))
    assert result.exit_code == 0, result.output
    assert "exported 2 recipients" in result.stdout
    rows = list(csv.DictReader(target.open(newline="")))
    assert [(row["email"], row["status"], row["clicked"]) for row in rows] == [
        ("ada@example.org", "sent", "yes"),
        ("bob@example.org", "sent", "no"),
    ]


def test_compare_lists_the_organizations_last_campaigns(campaign_id: int) -> None:
    result = invoke("campaign", "compare", "--org", "acme", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [item["campaignId"] for item in document["campaigns"]] == [campaign_id]
    refused = invoke("campaign", "compare")
    assert refused.exit_code != 0 and "organization" in refused.output
