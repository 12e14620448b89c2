"""``/api/admin/marketing/webhooks``: add (secret shown once), list, change, remove; recent
messages and attempts; replay; roles, organization scope and refusals that change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.schema import audit_log, webhook_endpoints
from tests.integration.api_client import Api, open_api
from tests.integration.webhook_support import Clock, dispatcher, receivers, record


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings, webhook_allow_loopback=True) as handle:
        yield handle


async def acme_id(api: Api) -> int:
    async with api.database.connection() as connection:
        row = await organization_by_slug(connection, "acme")
    assert row is not None
    return int(row["id"])


async def count(api: Api) -> int:
    async with api.database.connection() as connection:
        statement = select(func.count()).select_from(webhook_endpoints)
        return int((await connection.execute(statement)).scalar_one())


async def test_add_list_change_remove_and_the_secret_is_shown_once(api: Api) -> None:
    added = await api.call(
        "acme_admin",
        "POST",
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "eventTypes": ["sent", "clicked", "sent"]},
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["secret"].startswith("whsec_")
    assert (body["organization"], body["eventTypes"], body["enabled"]) == (
        "acme",
        ["sent", "clicked"],
        True,
    )
    [stored] = await api.rows(webhook_endpoints)
    assert body["secret"] not in json.dumps(stored, default=str)
    listing = await api.call("acme_admin", "GET", "/webhooks")
    assert [item["id"] for item in listing.json()["webhooks"]] == [body["id"]]
    assert "secret" not in listing.text

    changed = await api.call(
        "acme_admin",
        "PATCH",
        f"/webhooks/{body['id']}",
        json={"enabled": False, "eventTypes": ["campaign.finished"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False
    assert changed.json()["disabledReason"] == "disabled by an administrator"
    enabled = await api.call(
        "acme_admin", "PATCH", f"/webhooks/{body['id']}", json={"enabled": True}
    )
    assert (enabled.json()["enabled"], enabled.json()["disabledReason"]) == (True, None)

    removed = await api.call("acme_admin", "DELETE", f"/webhooks/{body['id']}")
    assert removed.status_code == 200
    assert await count(api) == 0
    actions = [row["action"] for row in await api.rows(audit_log)]
    assert actions.count("webhook.add") == 1 and "webhook.remove" in actions
    assert actions.count("webhook.update") == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/x", "eventTypes": ["sent"]}, "url"),
        ({"url": "http://example.org/x", "eventTypes": ["sent"]}, "url"),
        ({"url": "https://10.1.2.3/x", "eventTypes": ["sent"]}, "url"),
        ({"url": "https://169.254.169.254/latest", "eventTypes": ["sent"]}, "url"),
        ({"url": "https://[::ffff:192.168.0.1]/x", "eventTypes": ["sent"]}, "url"),
        ({"url": "https://user:pw@example.org/x", "eventTypes": ["sent"]}, "url"),
        ({"url": "https://example.org/x", "eventTypes": ["delivered"]}, "eventTypes"),
        ({"url": "https://example.org/x", "eventTypes": []}, "eventTypes"),
        ({"url": "https://example.org/x", "eventTypes": ["sent"], "colour": "red"}, "colour"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = await api.call("acme_admin", "POST", "/webhooks", json=body)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert await count(api) == 0


async def test_loopback_is_refused_unless_allowed(database: Database, settings: Settings) -> None:
    async with open_api(database, settings) as api:
        response = await api.call(
            "acme_admin",
            "POST",
            "/webhooks",
            json={"url": "https://127.0.0.1/hooks", "eventTypes": ["sent"]},
        )
        assert response.status_code == 422
        assert "loopback" in response.json()["detail"]


async def test_another_organization_sees_nothing_of_it(api: Api) -> None:
    added = await api.call(
        "acme_admin",
        "POST",
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "eventTypes": ["sent"]},
    )
    webhook_id = added.json()["id"]
    for method, path, body in [
        ("GET", f"/webhooks/{webhook_id}", None),
        ("PATCH", f"/webhooks/{webhook_id}", {"enabled": False}),
        ("DELETE", f"/webhooks/{webhook_id}", None),
        ("GET", f"/webhooks/{webhook_id}/attempts", None),
        ("GET", f"/webhooks/{webhook_id}/messages", None),
        ("POST", f"/webhooks/{webhook_id}/messages/msg_x/replay", None),
    ]:
        response = await api.call("globex_admin", method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    listing = await api.call("globex_admin", "GET", "/webhooks")
    assert listing.json()["webhooks"] == []
    viewer = await api.call(
        "acme_viewer",
        "POST",
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "eventTypes": ["sent"]},
    )
    assert viewer.status_code == 403
    assert (await api.call("acme_viewer", "GET", f"/webhooks/{webhook_id}")).status_code == 200
    assert (await api.call("platform", "GET", "/webhooks?organization=acme")).status_code == 200
    assert (await api.call("platform", "GET", "/webhooks")).status_code == 422
    assert await count(api) == 1


async def test_attempts_messages_and_replay(api: Api) -> None:
    settings = api.services.settings
    async with receivers() as [receiver]:
        receiver.status = 500
        added = await api.call(
            "acme_admin", "POST", "/webhooks", json={"url": receiver.url, "eventTypes": ["clicked"]}
        )
        webhook_id = added.json()["id"]
        await record(api.database, await acme_id(api), "clicked", link=3)
        await dispatcher(api.database, settings, Clock()).run_burst()

        attempts = await api.call("acme_admin", "GET", f"/webhooks/{webhook_id}/attempts")
        [attempt] = attempts.json()["attempts"]
        assert (attempt["statusCode"], attempt["eventType"]) == (500, "clicked")
        messages = await api.call(
            "acme_admin", "GET", f"/webhooks/{webhook_id}/messages?status=pending"
        )
        [message] = messages.json()["messages"]
        assert message["attempts"] == 1 and message["nextAttemptAt"] is not None
        assert message["messageId"] == attempt["messageId"]

        receiver.status = 200
        replayed = await api.call(
            "acme_admin",
            "POST",
            f"/webhooks/{webhook_id}/messages/{message['messageId']}/replay",
        )
        assert replayed.status_code == 202, replayed.text
        await dispatcher(api.database, settings, Clock()).run_burst()
        assert [r.headers["webhook-id"] for r in receiver.requests] == [message["messageId"]] * 2
        delivered = await api.call("acme_admin", "GET", f"/webhooks/{webhook_id}/messages")
        assert delivered.json()["messages"][0]["status"] == "delivered"

        unknown = await api.call(
            "acme_admin", "POST", f"/webhooks/{webhook_id}/messages/msg_nope/replay"
        )
        assert unknown.status_code == 404
        await api.call("acme_admin", "PATCH", f"/webhooks/{webhook_id}", json={"enabled": False})
        refused = await api.call(
            "acme_admin",
            "POST",
            f"/webhooks/{webhook_id}/messages/{message['messageId']}/replay",
        )
        assert refused.status_code == 409
        assert "enable it first" in refused.json()["detail"]


async def test_ids_out_of_range_are_unknown(api: Api) -> None:
    huge = 2**70
    for method, path in [
        ("GET", f"/webhooks/{huge}"),
        ("DELETE", f"/webhooks/{huge}"),
        ("GET", f"/webhooks/{huge}/messages"),
        ("POST", f"/webhooks/{huge}/messages/msg_x/replay"),
        ("GET", "/webhooks/0/attempts"),
    ]:
        response = await api.call("acme_admin", method, path)
        assert response.status_code == 404, (method, path, response.text)
    patched = await api.call("acme_admin", "PATCH", f"/webhooks/{huge}", json={})
    assert patched.status_code == 404
