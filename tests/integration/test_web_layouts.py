"""The layouts pages: add, preview, edit, remove; refusals that change nothing; roles, scope,
CSRF; and the campaign form's layout picker and live preview."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from campaignd.actions import layouts as actions
from campaignd.store.schema import audit_log, layouts
from tests.integration.test_web_pages import World, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

PAGE = "/admin/marketing/layouts"
HTML = (
    "<html><head><style>h1 { color: #0f766e }</style></head><body>"
    '<p class="brand">ACME</p>{{ content }}<a href="{{ unsubscribe_url }}">Leave</a></body></html>'
)


async def count(world: World, table: object) -> int:
    async with world.services.database.connection() as connection:
        statement = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int((await connection.execute(statement)).scalar_one())


async def test_add_preview_edit_and_remove(client: httpx.AsyncClient, world: World) -> None:
    csrf = await sign_in(client, world.acme_admin)
    page = await client.get(PAGE)
    assert page.status_code == 200 and "No layouts yet" in page.text
    added = await client.post(
        f"{PAGE}/add", data={"csrf_token": csrf, "name": "brand", "html": HTML, "default": "on"}
    )
    assert added.status_code == 303
    page = await client.get(added.headers["location"])
    assert any("The layout brand is added" in text for text in flashes_of(page.text))
    assert 'data-layout="brand"' in page.text and "data-default" in page.text
    assert 'sandbox srcdoc="' in page.text and "color: #0f766e;" in page.text  # inlined

    edit_page = await client.get(f"{PAGE}/brand")
    assert edit_page.status_code == 200 and "A heading" in edit_page.text
    saved = await client.post(
        f"{PAGE}/brand/edit",
        data={"csrf_token": csrf, "html": "<div>NEW</div>{{ content }}", "text": ""},
    )
    assert saved.status_code == 303
    async with world.services.database.connection() as connection:
        stored = (await connection.execute(select(layouts))).mappings().one()
    assert (stored["html"], stored["is_default"]) == ("<div>NEW</div>{{ content }}", False)

    form = await client.get("/admin/marketing/campaigns/new")
    assert 'id="layout"' in form.text and 'id="live-preview"' in form.text
    preview = await client.post(
        "/admin/marketing/campaigns/live-preview",
        data={
            "csrf_token": csrf,
            "subject": "Hi",
            "html_body": "# Hello {{ email }}",
            "body_format": "markdown",
            "layout": "brand",
        },
    )
    assert preview.status_code == 200
    assert "&lt;h1&gt;Hello someone@example.com&lt;/h1&gt;" in preview.text  # in srcdoc
    assert "&lt;div&gt;NEW&lt;/div&gt;" in preview.text
    assert "data-live-text" in preview.text
    broken = await client.post(
        "/admin/marketing/campaigns/live-preview",
        data={"csrf_token": csrf, "subject": "Hi", "html_body": "a\n{{ x +}}", "layout": ""},
    )
    assert 'data-live-problem="html_body"' in broken.text and "line 2" in broken.text

    removed = await client.post(f"{PAGE}/brand/remove", data={"csrf_token": csrf})
    assert removed.status_code == 303
    assert await count(world, layouts) == 0


async def test_refusals_show_the_problem_and_change_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    audit_before = await count(world, audit_log)
    bad = await client.post(
        f"{PAGE}/add", data={"csrf_token": csrf, "name": "brand", "html": "<p>no slot</p>"}
    )
    assert bad.status_code == 422
    assert "{{ content }}" in bad.text and "no slot" in bad.text  # the form comes back
    forged = await client.post(f"{PAGE}/add", data={"name": "brand", "html": HTML})
    assert forged.status_code == 403
    preview = await client.post(
        "/admin/marketing/campaigns/live-preview", data={"subject": "x", "html_body": "y"}
    )
    assert preview.status_code == 403
    assert await count(world, layouts) == 0
    assert await count(world, audit_log) == audit_before


async def test_viewers_read_and_other_organizations_see_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    await actions.add_layout(
        world.services, world.system, name="brand", html=HTML, organization="acme"
    )
    csrf = await sign_in(client, world.acme_viewer)
    page = await client.get(PAGE)
    assert 'data-layout="brand"' in page.text and f'action="{PAGE}/add"' not in page.text
    await client.post(f"{PAGE}/brand/remove", data={"csrf_token": csrf})
    assert await count(world, layouts) == 1

    await client.post("/admin/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, world.globex_admin)
    page = await client.get(PAGE)
    assert 'data-layout="brand"' not in page.text
    assert (await client.get(f"{PAGE}/brand")).status_code == 404
    await client.post(f"{PAGE}/brand/remove", data={"csrf_token": csrf})
    await client.post(f"{PAGE}/brand/edit", data={"csrf_token": csrf, "html": "{{ content }}"})
    async with world.services.database.connection() as connection:
        stored = (await connection.execute(select(layouts))).mappings().one()
    assert stored["html"] == HTML
    preview = await client.post(
        "/admin/marketing/campaigns/live-preview",
        data={"csrf_token": csrf, "subject": "x", "html_body": "y", "layout": "brand"},
    )
    assert "ACME" not in preview.text and 'data-live-problem="layout"' in preview.text
