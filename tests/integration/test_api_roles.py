"""Every route for every role: platform admin, organization admin (own and other
organization), viewer, no token, revoked token. Refusals change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, campaign_body, future, open_api


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    state: str
    success: int
    changes: bool
    body: Any = None
    csv: bool = False


CAMPAIGN_ROUTES = {
    "read": Route("GET", "/campaigns/{id}", "draft", 200, False),
    "edit": Route("PATCH", "/campaigns/{id}", "draft", 200, True, {"subject": "New"}),
    "delete": Route("DELETE", "/campaigns/{id}", "draft", 204, True),
    "add-json": Route(
        "POST", "/campaigns/{id}/recipients", "draft", 200, True, {"recipients": ["x@y.org"]}
    ),
    "add-csv": Route(
        "POST", "/campaigns/{id}/recipients", "draft", 200, True, "email\nx@y.org\n", csv=True
    ),
    "recipients": Route("GET", "/campaigns/{id}/recipients", "draft", 200, False),
    "schedule": Route("POST", "/campaigns/{id}/schedule", "draft", 200, True, "future"),
    "unschedule": Route("POST", "/campaigns/{id}/unschedule", "scheduled", 200, True),
    "execute": Route("POST", "/campaigns/{id}/execute", "scheduled", 202, True),
    "pause": Route("POST", "/campaigns/{id}/pause", "sending", 200, True),
    "resume": Route("POST", "/campaigns/{id}/resume", "paused", 200, True),
    "cancel": Route("POST", "/campaigns/{id}/cancel", "scheduled", 200, True),
    "preview": Route("POST", "/campaigns/{id}/preview", "draft", 200, False),
}


async def request(api: Api, who: str | None, route: Route, campaign_id: int) -> Any:
    path = route.path.format(id=campaign_id)
    if route.csv:
        return await api.call(
            who, route.method, path, content=route.body, headers={"content-type": "text/csv"}
        )
    body = {"scheduledFor": future()} if route.body == "future" else route.body
    return await api.call(who, route.method, path, json=body)


@pytest.mark.parametrize("name", list(CAMPAIGN_ROUTES))
async def test_campaign_route_for_every_role(api: Api, name: str) -> None:
    route = CAMPAIGN_ROUTES[name]
    campaign_id = await api.campaign_in(route.state)
    before = await api.snapshot()
    refusals = {
        None: 401,
        "revoked": 401,
        "cmp_unknown": 401,
        "globex_admin": 404,
        "acme_viewer": 403 if route.changes else route.success,
    }
    for who, expected in refusals.items():
        response = await request(api, who, route, campaign_id)
        assert response.status_code == expected, (who, response.text)
        if expected >= 400:
            assert response.json()["detail"]
        if expected == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    assert await api.snapshot() == before, "a refused request changed something"

    response = await request(api, "acme_admin", route, campaign_id)
    assert response.status_code == route.success, response.text
    audit = await api.audit()
    if route.changes:
        assert audit[-1]["actor"] == "token:acme_admin"
        assert audit[-1]["target"] == str(campaign_id)
    else:
        assert len(audit) == before["counts"]["audit_log"]

    other = await api.campaign_in(route.state)
    response = await request(api, "platform", route, other)
    assert response.status_code == route.success, response.text


async def test_create_for_every_role(api: Api) -> None:
    before = await api.snapshot()
    for who, expected in {None: 401, "revoked": 401, "acme_viewer": 403}.items():
        response = await api.call(who, "POST", "/campaigns", json=campaign_body())
        assert response.status_code == expected, response.text
    response = await api.call(
        "acme_admin", "POST", "/campaigns", json=campaign_body(organization="globex")
    )
    assert response.status_code == 422
    assert "organization" in response.json()["detail"]
    response = await api.call("platform", "POST", "/campaigns", json=campaign_body())
    assert response.status_code == 422
    assert "organization: required" in response.json()["detail"]
    assert await api.snapshot() == before

    mine = await api.create("acme_admin")
    assert mine["organization"] == "acme"
    theirs = await api.create("globex_admin")
    assert theirs["organization"] == "globex"
    platform = await api.create("platform", organization="globex")
    assert platform["createdBy"] == "token:platform"


async def test_lists_and_reports_are_scoped_per_organization(api: Api) -> None:
    acme = await api.campaign_in("scheduled")
    acme_sent = await api.campaign_in("sending")
    globex = int((await api.create("globex_admin", scheduledFor=future(0.5)))["id"])
    expected = {
        "platform": {acme, acme_sent, globex},
        "acme_admin": {acme, acme_sent},
        "acme_viewer": {acme, acme_sent},
        "globex_admin": {globex},
    }
    for who, ids in expected.items():
        listed = await api.call(who, "GET", "/campaigns")
        assert listed.status_code == 200
        assert {item["id"] for item in listed.json()["campaigns"]} == ids, who
        upcoming = await api.call(who, "GET", "/campaigns/scheduled?hours=48")
        assert upcoming.status_code == 200
        assert {item["id"] for item in upcoming.json()["campaigns"]} == ids - {acme_sent}, who
        log = await api.call(who, "GET", "/campaigns/execution-log")
        assert log.status_code == 200
        assert {item["campaignId"] for item in log.json()["executions"]} == ids & {acme_sent}
    for path in ("/campaigns", "/campaigns/scheduled", "/campaigns/execution-log"):
        for who in (None, "revoked"):
            assert (await api.call(who, "GET", path)).status_code == 401


async def test_suppressions_for_every_role(api: Api) -> None:
    body = {"emails": ["ada@example.com"], "reason": "manual"}
    before = await api.snapshot()
    for who, expected in {None: 401, "revoked": 401, "acme_viewer": 403}.items():
        assert (await api.call(who, "POST", "/suppressions", json=body)).status_code == expected
        response = await api.call(who, "DELETE", "/suppressions", json={"emails": body["emails"]})
        assert response.status_code == expected
        response = await api.call(who, "DELETE", "/suppressions/ada@example.com")
        assert response.status_code == expected
    platform_without_organization = await api.call("platform", "POST", "/suppressions", json=body)
    assert platform_without_organization.status_code == 422
    assert await api.snapshot() == before

    assert (await api.call("acme_admin", "POST", "/suppressions", json=body)).status_code == 201
    assert (await api.audit())[-1]["actor"] == "token:acme_admin"
    for who, expected in {"acme_admin": 1, "acme_viewer": 1, "globex_admin": 0}.items():
        listed = await api.call(who, "GET", "/suppressions")
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["suppressions"]) == expected, who
    listed = await api.call("platform", "GET", "/suppressions?organization=acme")
    assert [item["email"] for item in listed.json()["suppressions"]] == ["ada@example.com"]
    response = await api.call("globex_admin", "DELETE", "/suppressions/ada@example.com")
    assert response.json()["removed"] == 0
    response = await api.call(
        "platform", "DELETE", "/suppressions/ada@example.com?organization=acme"
    )
    assert response.status_code == 200
    assert response.json() == {"organization": "acme", "removed": 1, "unchanged": 0}
