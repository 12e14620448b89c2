"""Hostile input: ids beyond 64 bits, deep JSON, huge or broken CSVs, uploads nobody may make.

Each answers a clear 4xx naming what is wrong (the limit, the row), stores nothing, and
leaves the service answering.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, campaign_body, open_api
from tests.integration.test_web_pages import sign_in

HUGE = "99999999999999999999"
BEYOND_64_BITS = "888935839905576467610730496"


def nested(depth: int) -> str:
    """A JSON object nested ``depth`` levels deep, written without recursion."""
    return '{"a":' * depth + "1" + "}" * depth


def recipients_body(vars_json: str) -> bytes:
    return f'{{"recipients": [{{"email": "deep@example.com", "vars": {vars_json}}}]}}'.encode()


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


# ids and cursors


ID_CASES: dict[str, tuple[str, str, int, str]] = {
    "huge-id": ("GET", f"/campaigns/{HUGE}", 404, f"campaign {HUGE} not found"),
    "max-id-unknown": ("GET", f"/campaigns/{2**63 - 1}", 404, "not found"),
    "first-id-beyond": ("GET", f"/campaigns/{2**63}", 404, "not found"),
    "negative-id": ("GET", "/campaigns/-1", 404, "campaign -1 not found"),
    "zero-id": ("GET", "/campaigns/0", 404, "campaign 0 not found"),
    "text-id": ("GET", "/campaigns/abc", 404, "not found"),
    "huge-pause": ("POST", f"/campaigns/{BEYOND_64_BITS}/pause", 404, "not found"),
    "huge-execute": ("POST", f"/campaigns/{BEYOND_64_BITS}/execute", 404, "not found"),
    "huge-edit": ("PATCH", f"/campaigns/{HUGE}", 404, "not found"),
    "huge-delete": ("DELETE", f"/campaigns/{HUGE}", 404, "not found"),
    "huge-recipients": ("GET", f"/campaigns/{HUGE}/recipients", 404, "not found"),
    "huge-preview": ("POST", f"/campaigns/{HUGE}/preview", 404, "not found"),
    "huge-cursor": ("GET", "/campaigns?cursor=32589158477190044729", 422, "cursor:"),
    "negative-cursor": ("GET", "/campaigns?cursor=-5", 422, "cursor:"),
    "text-cursor": ("GET", "/campaigns?cursor=next", 422, "cursor:"),
    "huge-recipients-cursor": (
        "GET",
        "/campaigns/{id}/recipients?cursor=32589158477190044729",
        422,
        "cursor:",
    ),
    "huge-suppressions-cursor": ("GET", "/suppressions?cursor=" + "z" * 400, 422, "cursor:"),
}


@pytest.mark.parametrize("case", list(ID_CASES))
async def test_ids_and_cursors_out_of_range_are_404_or_422(api: Api, case: str) -> None:
    method, path, status, words = ID_CASES[case]
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    body = {"name": "x"} if method == "PATCH" else None
    response = await api.call(
        "platform", method, path.format(id=campaign_id), json=body, params=None
    )
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert await api.snapshot() == before
    assert (await api.call("platform", "GET", f"/campaigns/{campaign_id}")).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/admin/marketing/campaigns/{HUGE}", 404),
        (f"/admin/marketing/campaigns/{2**63}/edit", 404),
        (f"/admin/marketing/campaigns/{BEYOND_64_BITS}/progress", 404),
        ("/admin/marketing/campaigns/0", 404),
        ("/admin/marketing/campaigns/-1", 404),  # no such route
        ("/admin/marketing/campaigns/abc", 404),  # no such route
        ("/admin/marketing/campaigns?cursor=32589158477190044729", 422),
        ("/admin/marketing/campaigns/{id}?after=32589158477190044729", 422),
        ("/admin/marketing/campaigns/{id}?sample=-3", 422),
    ],
)
async def test_admin_pages_with_ids_out_of_range_are_pages_not_errors(
    api: Api, path: str, status: int
) -> None:
    campaign_id = await api.campaign_in("draft")
    await sign_in(api.client, api.tokens["platform"])
    response = await api.client.get(path.format(id=campaign_id))
    assert response.status_code == status, response.text
    if "-1" not in path and "abc" not in path:
        assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    page = await api.client.get(f"/admin/marketing/campaigns/{campaign_id}")
    assert page.status_code == 200


async def test_a_huge_id_in_a_form_post_is_a_404_page(api: Api) -> None:
    await sign_in(api.client, api.tokens["platform"])
    response = await api.client.post(f"/admin/marketing/campaigns/{HUGE}/pause", data={})
    assert response.status_code in {403, 404}, response.text
    assert "Traceback" not in response.text


# nesting and size of JSON and variables


@pytest.mark.parametrize("depth", [700, 3000, 100_000])
async def test_deeply_nested_vars_are_refused_and_nothing_is_stored(api: Api, depth: int) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    response = await api.call(
        "acme_admin",
        "POST",
        f"/campaigns/{campaign_id}/recipients",
        content=recipients_body(nested(depth)),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "nested more than 32 levels" in response.json()["detail"]
    assert await api.snapshot() == before
    listed = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/recipients")
    assert listed.status_code == 200, listed.text


async def test_every_json_body_has_the_nesting_limit(api: Api) -> None:
    before = await api.snapshot()
    body = json.dumps(campaign_body())[:-1] + f', "extra": {nested(40)}}}'
    for path in ("/campaigns", "/suppressions"):
        response = await api.call(
            "platform",
            "POST",
            path,
            content=body.encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert "nested more than 32 levels deep" in response.json()["detail"]
    huge_number = b'{"name": ' + b"9" * 5000 + b"}"
    response = await api.call(
        "platform",
        "POST",
        "/campaigns",
        content=huge_number,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert await api.snapshot() == before


async def test_the_nesting_limit_is_a_setting(database: Database, settings: Settings) -> None:
    async with open_api(database, settings, max_json_depth=8) as api:
        campaign_id = await api.campaign_in("draft")
        response = await api.call(
            "acme_admin",
            "POST",
            f"/campaigns/{campaign_id}/recipients",
            content=recipients_body(nested(6)),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422
        assert "nested more than 8 levels deep" in response.json()["detail"]


async def test_json_routes_authenticate_before_reading_the_body(api: Api) -> None:
    response = await api.call(
        None,
        "POST",
        "/campaigns",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 401, response.text
