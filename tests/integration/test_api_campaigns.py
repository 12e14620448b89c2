"""Campaigns over HTTP: create, list with cursor pages, read, edit, delete; reports; health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, campaign_body, future, open_api

CAMPAIGN_FIELDS = {
    "id",
    "name",
    "subject",
    "htmlBody",
    "textBody",
    "fromAddress",
    "replyTo",
    "organization",
    "status",
    "statusReason",
    "scheduledFor",
    "recipientCount",
    "counts",
    "startedAt",
    "finishedAt",
    "createdAt",
    "updatedAt",
}


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def test_create_with_recipients_and_schedule(api: Api) -> None:
    when = "2031-03-01T09:30:00+01:00"
    response = await api.call(
        "acme_admin",
        "POST",
        "/campaigns",
        json=campaign_body(
            htmlBody="<p>Hi {{ first_name }}</p>",
            fromAddress="News <news@acme.example>",
            replyTo="help@acme.example",
            recipients=["ada@example.com", {"email": "bob@example.com", "vars": {"x": 1}}],
            scheduledFor=when,
        ),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= CAMPAIGN_FIELDS
    assert body["status"] == "scheduled"
    assert body["scheduledFor"] == "2031-03-01T08:30:00Z"
    assert datetime.fromisoformat(body["scheduledFor"]) == datetime.fromisoformat(when)
    assert body["recipientCount"] == 2
    assert body["counts"] == {"pending": 2}
    assert body["import"] == {"added": 2, "duplicates": 0, "invalid": [], "erased": 0}
    assert body["fromAddress"] == "News <news@acme.example>"
    read = await api.call("acme_viewer", "GET", f"/campaigns/{body['id']}")
    assert read.status_code == 200
    assert {key: read.json()[key] for key in CAMPAIGN_FIELDS} == {
        key: body[key] for key in CAMPAIGN_FIELDS
    }


async def test_create_without_recipients_has_no_import_report(api: Api) -> None:
    body = await api.create()
    assert body["import"] is None
    assert (body["status"], body["recipientCount"], body["counts"]) == ("draft", 0, {})


async def test_list_pages_newest_first_and_filters_by_status(api: Api) -> None:
    ids = [int((await api.create(name=f"c{number}"))["id"]) for number in range(5)]
    await api.call(
        "acme_admin", "POST", f"/campaigns/{ids[0]}/schedule", json={"scheduledFor": future()}
    )
    seen: list[int] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = (await api.call("acme_viewer", "GET", f"/campaigns{query}")).json()
        seen += [item["id"] for item in body["campaigns"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    scheduled = (await api.call("acme_admin", "GET", "/campaigns?status=scheduled")).json()
    assert [item["id"] for item in scheduled["campaigns"]] == [ids[0]]


async def test_edit_changes_only_the_fields_sent(api: Api) -> None:
    created = await api.create(htmlBody="<p>old</p>")
    response = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{created['id']}", json={"subject": "New {{ email }}"}
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["subject"] == "New {{ email }}"
    assert (edited["name"], edited["htmlBody"]) == (created["name"], "<p>old</p>")
    removed = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{created['id']}", json={"htmlBody": None}
    )
    assert removed.json()["htmlBody"] is None
    refused = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{created['id']}", json={"textBody": None}
    )
    assert refused.status_code == 422
    last = (await api.audit())[-1]
    assert (last["action"], last["detail"]) == ("campaign.edit", {"fields": ["html_body"]})


async def test_delete_a_draft(api: Api) -> None:
    created = await api.create(recipients=["ada@example.com"])
    response = await api.call("acme_admin", "DELETE", f"/campaigns/{created['id']}")
    assert response.status_code == 204
    assert await api.campaign_row(created["id"]) is None
    again = await api.call("acme_admin", "DELETE", f"/campaigns/{created['id']}")
    assert again.status_code == 404
    assert (await api.audit())[-1]["action"] == "campaign.delete"


async def test_upcoming_soonest_first_within_the_window(api: Api) -> None:
    later = await api.create(name="later", scheduledFor=future(0.5))
    sooner = await api.create(name="sooner", scheduledFor=future(0.1), recipients=["a@b.org"])
    await api.create(name="next week", scheduledFor=future(7))
    body = (await api.call("acme_viewer", "GET", "/campaigns/scheduled")).json()
    assert [item["name"] for item in body["campaigns"]] == ["sooner", "later"]
    first = body["campaigns"][0]
    assert {"id", "name", "scheduledFor", "recipientCount"} <= set(first)
    assert (first["id"], first["recipientCount"]) == (sooner["id"], 1)
    assert first["scheduledFor"] == sooner["scheduledFor"]
    week = (await api.call("acme_viewer", "GET", "/campaigns/scheduled?hours=200")).json()
    assert len(week["campaigns"]) == 3
    assert later["id"] in [item["id"] for item in week["campaigns"]]


async def test_execution_log_has_one_row_per_run_with_its_actor(api: Api) -> None:
    first = await api.campaign_in("draft")
    second = await api.campaign_in("draft")
    for campaign_id in (first, second):
        await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")
    await api.call("acme_admin", "POST", f"/campaigns/{first}/cancel")
    body = (await api.call("acme_viewer", "GET", "/campaigns/execution-log?limit=10")).json()
    rows = body["executions"]
    assert [row["campaignId"] for row in rows] == [second, first]
    fields = {
        "id",
        "campaignId",
        "name",
        "status",
        "trigger",
        "actor",
        "executedAt",
        "finishedAt",
        "recipientCount",
        "sent",
        "failed",
        "skipped",
        "error",
        "latenessSeconds",
    }
    assert fields <= set(rows[0])
    assert (rows[1]["status"], rows[1]["trigger"], rows[1]["actor"]) == (
        "cancelled",
        "manual",
        "token:acme_admin",
    )
    assert rows[1]["finishedAt"] is not None
    limited = (await api.call("acme_viewer", "GET", "/campaigns/execution-log?limit=1")).json()
    assert len(limited["executions"]) == 1


async def test_health_readiness_metrics_and_openapi(api: Api) -> None:
    assert (await api.call(None, "GET", "/healthz")).json() == {"status": "ok"}
    ready = await api.call(None, "GET", "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True
    assert "redis" not in ready.json()["checks"]
    metrics = await api.call(None, "GET", "/metrics")
    assert metrics.status_code == 200
    assert "campaignd_scheduler_lateness_seconds" in metrics.text
    schema = (await api.call(None, "GET", "/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/admin/marketing/campaigns",
        "/api/admin/marketing/campaigns/{campaign_id}",
        "/api/admin/marketing/campaigns/scheduled",
        "/api/admin/marketing/campaigns/execution-log",
        "/api/admin/marketing/campaigns/{campaign_id}/recipients",
        "/api/admin/marketing/suppressions",
    ):
        assert path in paths
    assert "htmlBody" in schema["components"]["schemas"]["CampaignCreate"]["properties"]
    docs = await api.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_readiness_reports_an_unreachable_redis(
    database: Database, settings: Settings
) -> None:
    async with open_api(database, settings, redis_url="redis://127.0.0.1:1/0") as api:
        ready = await api.call(None, "GET", "/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert "redis" in body["detail"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
