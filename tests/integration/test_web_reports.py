"""The report and comparison pages over HTTP: scope (another organization's is 404), the
CSV download, signed-out visitors sent to the login page."""

from __future__ import annotations

import csv
import io
import re

import httpx

from campaignd.actions import campaigns as actions
from tests.integration.test_web_pages import World, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

LIST = "/admin/marketing/campaigns"


async def test_the_report_pages_keep_to_the_organization(
    client: httpx.AsyncClient, world: World
) -> None:
    theirs = await world.campaign("Globex secret", organization="globex")
    ours = await world.campaign("Acme news")
    signed_out = await client.get(f"{LIST}/{ours}/report")
    assert signed_out.status_code in (302, 303)
    await sign_in(client, world.acme_admin)
    for path in ("/report", "/report.csv"):
        answer = await client.get(f"{LIST}/{theirs}{path}")
        assert answer.status_code == 404, path
        assert "Globex secret" not in answer.text
    page = await client.get(f"{LIST}/{ours}/report")
    assert page.status_code == 200
    assert "Acme news" in page.text and 'data-figure="sent"' in page.text
    download = await client.get(f"{LIST}/{ours}/report.csv")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [row["email"] for row in rows] == ["a@example.org", "b@example.org"]
    assert [(row["status"], row["sent_at"]) for row in rows] == [("pending", "")] * 2
    comparison = await client.get("/admin/marketing/reports")
    assert comparison.status_code == 200
    assert "Globex secret" not in comparison.text
    assert (await client.get("/admin/marketing/reports?last=0")).status_code == 422


async def test_the_form_offers_and_keeps_the_tracking_choices(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    new = await client.get(f"{LIST}/new")
    assert re.search(r'name="track_clicks" value="1"\s+checked', new.text)
    assert not re.search(r'name="track_opens" value="1"\s+checked', new.text)
    created = await client.post(
        f"{LIST}/new",
        data={
            "csrf_token": csrf,
            "name": "Tracked",
            "subject": "S",
            "text_body": "Hi",
            "track_opens": "1",
        },
    )
    assert created.status_code == 303
    campaign_id = int(created.headers["location"].rsplit("/", 1)[-1])
    saved = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (saved["track_clicks"], saved["track_opens"]) == (False, True)
    form = await client.get(f"{LIST}/{campaign_id}/edit")
    assert re.search(r'name="track_opens" value="1"\s+checked', form.text)
    assert not re.search(r'name="track_clicks" value="1"\s+checked', form.text)
    edited = await client.post(
        f"{LIST}/{campaign_id}/edit",
        data={
            "csrf_token": csrf,
            "name": "Renamed",
            "subject": "S",
            "text_body": "Hi",
            "track_opens": "1",
        },
    )
    assert edited.status_code == 303
    saved = await actions.get_campaign(world.services, world.system, campaign_id)
    assert (saved["name"], saved["track_clicks"], saved["track_opens"]) == (
        "Renamed",
        False,
        True,
    )
