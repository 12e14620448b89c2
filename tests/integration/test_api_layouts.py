"""``/api/admin/marketing/layouts``: add, list, show, edit, remove; a campaign's ``layout``
and ``bodyFormat``; refusals that change nothing; organization scope; the layout a campaign
starts with is the one it keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import audit_log, campaigns, layouts
from tests.integration.api_client import Api, campaign_body, future, open_api

HTML = (
    "<html><head><style>p{color:#123456}</style></head>"
    '<body><div class="brand">ACME</div>{{ content }}'
    '<p>ACME Ltd, 1 Road <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def add(api: Api, name: str = "brand", **fields: object) -> dict[str, object]:
    answer = await api.call(
        "acme_admin", "POST", "/layouts", json={"name": name, "html": HTML} | fields
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, object] = answer.json()
    return result


async def test_add_list_show_edit_and_one_default_per_organization(api: Api) -> None:
    first = await add(api, "brand", default=True, text="{{ content }}\n-- \nACME Ltd")
    assert (first["name"], first["default"], first["organization"]) == ("brand", True, "acme")
    await add(api, "plain", html="<div>{{content}}</div>", default=True)
    listing = (await api.call("acme_admin", "GET", "/layouts")).json()
    assert [(item["name"], item["default"]) for item in listing["layouts"]] == [
        ("brand", False),
        ("plain", True),
    ]
    edited = await api.call(
        "acme_admin", "PATCH", "/layouts/brand", json={"default": True, "text": None}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["default"], edited.json()["text"]) == (True, None)
    shown = (await api.call("acme_viewer", "GET", "/layouts/plain")).json()
    assert shown["default"] is False
    preview = (await api.call("acme_admin", "GET", "/layouts/brand/preview")).json()
    assert "A heading" in preview["html"] and 'style="color: #123456;"' in preview["html"]
    assert "A heading" in preview["text"] and "<" not in preview["text"]
    actions = [row["action"] for row in await api.rows(audit_log)]
    assert actions.count("layout.add") == 2 and "layout.edit" in actions


async def test_bad_layouts_are_refused_and_change_nothing(api: Api) -> None:
    await add(api, "brand")
    refusals = [
        ("POST", "/layouts", {"name": "nocontent", "html": "<p>no slot</p>"}, 422, "content"),
        ("POST", "/layouts", {"name": "brand", "html": HTML}, 409, "already"),
        ("POST", "/layouts", {"name": "bad name!", "html": HTML}, 422, "name"),
        ("POST", "/layouts", {"name": "t", "html": HTML, "text": "no slot"}, 422, "text"),
        ("POST", "/layouts", {"name": "j", "html": "{{ content }}{% if %}"}, 422, "html"),
        ("PATCH", "/layouts/brand", {"html": "<p>gone</p>"}, 422, "content"),
        ("PATCH", "/layouts/missing", {"html": HTML}, 404, "missing"),
        ("DELETE", "/layouts/missing", None, 404, "missing"),
    ]
    for method, path, body, status, word in refusals:
        answer = await api.call("acme_admin", method, path, json=body)
        assert answer.status_code == status, (path, body, answer.text)
        assert word in answer.json()["detail"], answer.text
    [stored] = await api.rows(layouts)
    assert (stored["name"], stored["html"]) == ("brand", HTML)
    viewer = await api.call("acme_viewer", "POST", "/layouts", json={"name": "v", "html": HTML})
    assert viewer.status_code == 403


async def test_another_organization_never_sees_a_layout(api: Api) -> None:
    await add(api, "brand")
    for method in ("GET", "DELETE"):
        answer = await api.call("globex_admin", method, "/layouts/brand")
        assert answer.status_code == 404, answer.text
    patched = await api.call("globex_admin", "PATCH", "/layouts/brand", json={"default": True})
    assert patched.status_code == 404
    assert (await api.call("globex_admin", "GET", "/layouts")).json()["layouts"] == []
    campaign = await api.call(
        "globex_admin", "POST", "/campaigns", json=campaign_body(layout="brand")
    )
    assert campaign.status_code == 422 and "layout" in campaign.json()["detail"]


async def test_a_campaign_takes_the_default_names_one_or_none(api: Api) -> None:
    plain = await api.call("acme_admin", "POST", "/campaigns", json=campaign_body())
    assert plain.json()["layout"] is None and plain.json()["bodyFormat"] == "html"
    await add(api, "brand", default=True)
    await add(api, "other")
    taken = (await api.call("acme_admin", "POST", "/campaigns", json=campaign_body())).json()
    assert taken["layout"] == "brand"
    named = await api.call("acme_admin", "POST", "/campaigns", json=campaign_body(layout="other"))
    assert named.json()["layout"] == "other"
    none = await api.call("acme_admin", "POST", "/campaigns", json=campaign_body(layout=None))
    assert none.json()["layout"] is None
    markdown = await api.call(
        "acme_admin",
        "POST",
        "/campaigns",
        json=campaign_body(bodyFormat="markdown", htmlBody="# Hi {{ email }}", textBody=None),
    )
    assert markdown.status_code == 201, markdown.text
    assert markdown.json()["bodyFormat"] == "markdown"
    before = await api.rows(campaigns)
    for body in (
        campaign_body(layout="missing"),
        campaign_body(bodyFormat="rich"),
    ):
        answer = await api.call("acme_admin", "POST", "/campaigns", json=body)
        assert answer.status_code == 422, answer.text
    edit = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{taken['id']}", json={"layout": "missing"}
    )
    assert edit.status_code == 422 and "layout" in edit.json()["detail"]
    assert await api.rows(campaigns) == before
    moved = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{taken['id']}", json={"layout": None}
    )
    assert moved.json()["layout"] is None


async def test_a_layout_in_use_is_not_removed_and_a_started_campaign_keeps_its_copy(
    api: Api,
) -> None:
    await add(api, "brand", default=True)
    created = await api.call(
        "acme_admin",
        "POST",
        "/campaigns",
        json=campaign_body(scheduledFor=future(), recipients=["a@x.org"]),
    )
    campaign_id = created.json()["id"]
    refused = await api.call("acme_admin", "DELETE", "/layouts/brand")
    assert refused.status_code == 409
    assert "Spring news" in refused.json()["detail"] and "scheduled" in refused.json()["detail"]
    assert len(await api.rows(layouts)) == 1

    started = await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")
    assert started.status_code == 202, started.text
    [row] = await api.rows(campaigns)
    assert row["layout_html"] == HTML
    edited = await api.call(
        "acme_admin", "PATCH", "/layouts/brand", json={"html": "<b>NEW</b>{{ content }}"}
    )
    assert edited.status_code == 200
    [row] = await api.rows(campaigns)
    assert row["layout_html"] == HTML
    assert (await api.call("acme_admin", "DELETE", "/layouts/brand")).status_code == 409
    await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/cancel")
    removed = await api.call("acme_admin", "DELETE", "/layouts/brand")
    assert removed.status_code == 200 and await api.rows(layouts) == []


async def test_a_draft_whose_layout_was_removed_is_not_scheduled(api: Api) -> None:
    await add(api, "brand")
    created = await api.call("acme_admin", "POST", "/campaigns", json=campaign_body(layout="brand"))
    campaign_id = created.json()["id"]
    removed = await api.call("acme_admin", "DELETE", "/layouts/brand")
    assert removed.status_code == 200  # a draft does not hold its layout
    scheduled = await api.call(
        "acme_admin", "POST", f"/campaigns/{campaign_id}/schedule", json={"scheduledFor": future()}
    )
    assert scheduled.status_code == 422
    assert "layout: no layout named 'brand'" in scheduled.json()["detail"]
    [row] = await api.rows(campaigns)
    assert row["status"] == "draft"
