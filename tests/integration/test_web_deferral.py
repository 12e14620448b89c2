"""The campaign form's "When a frequency rule caps someone" choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from campaignd.actions import campaigns as campaign_actions
from tests.integration.test_web_pages import World, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

BERLIN = ZoneInfo("Europe/Berlin")


async def test_the_form_defers_capped_recipients_until_a_deadline(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    form = await client.get("/admin/marketing/campaigns/new")
    assert 'name="capped_recipients"' in form.text and 'name="defer_until"' in form.text
    local = (datetime.now(BERLIN) + timedelta(days=10)).replace(
        hour=18, minute=30, second=0, microsecond=0
    )
    fields = {
        "csrf_token": csrf,
        "name": "Winter",
        "subject": "Hello",
        "text_body": "Hi",
        "timezone": "Europe/Berlin",
        "capped_shown": "1",
    }
    created = await client.post(
        "/admin/marketing/campaigns/new",
        data=fields | {"capped_recipients": "defer", "defer_until": f"{local:%Y-%m-%dT%H:%M}"},
    )
    assert created.status_code == 303, created.text
    campaign_id = int(created.headers["location"].rsplit("/", 1)[1])
    kept = await campaign_actions.get_campaign(world.services, world.system, campaign_id)
    assert (kept["capped_recipients"], kept["defer_until"]) == ("defer", local.astimezone(UTC))
    detail = await client.get(created.headers["location"])
    assert "data-capped" in detail.text and "deferred until a rule frees a slot" in detail.text

    # a draft keeps no zone: the edit form shows the deadline in UTC, and picks UTC
    edit = await client.get(f"/admin/marketing/campaigns/{campaign_id}/edit")
    assert f'value="{local.astimezone(UTC):%Y-%m-%dT%H:%M}"' in edit.text
    assert 'data-chosen="UTC"' in edit.text
    assert '<option value="defer" selected>' in edit.text

    # a deadline in the past is refused next to the field and changes nothing
    past = await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data=fields | {"capped_recipients": "defer", "defer_until": "2020-01-01T09:00"},
    )
    assert past.status_code == 422
    assert 'data-field-error="defer_until"' in past.text
    missing = await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data=fields | {"capped_recipients": "defer", "defer_until": ""},
    )
    assert missing.status_code == 422
    assert 'data-field-error="defer_until"' in missing.text
    kept = await campaign_actions.get_campaign(world.services, world.system, campaign_id)
    assert kept["defer_until"] == local.astimezone(UTC)

    # skipping clears the deadline
    skipped = await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/edit",
        data=fields | {"capped_recipients": "skip", "defer_until": f"{local:%Y-%m-%dT%H:%M}"},
    )
    assert skipped.status_code == 303, skipped.text
    kept = await campaign_actions.get_campaign(world.services, world.system, campaign_id)
    assert (kept["capped_recipients"], kept["defer_until"]) == ("skip", None)
