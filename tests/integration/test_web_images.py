"""The images page and the test send form over HTTP: roles, organization scope, CSRF."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from campaignd.actions import images as actions
from campaignd.settings import Settings
from campaignd.store.schema import images
from tests.integration.image_samples import png
from tests.integration.test_web_pages import World, flashes_of, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

PAGE = "/admin/marketing/images"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        email_transport=f"file://{tmp_path / 'outbox'}",
        images_dir=str(tmp_path / "images"),
    )


async def count(world: World) -> int:
    async with world.services.database.connection() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(images))).scalar_one()
        )


async def acme_image(world: World) -> actions.ImageView:
    view, _ = await actions.add_image(
        world.services, world.system, data=png(), name="logo.png", organization="acme"
    )
    return view


async def upload(
    client: httpx.AsyncClient, csrf: str, data: bytes = b"", name: str = "logo.png"
) -> httpx.Response:
    return await client.post(
        f"{PAGE}/upload",
        data={"csrf_token": csrf},
        files={"images": (name, data or png(), "image/png")},
    )


async def test_viewers_read_and_other_organizations_see_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    view = await acme_image(world)
    csrf = await sign_in(client, world.acme_viewer)
    page = await client.get(PAGE)
    assert f'data-image="{view.image.id}"' in page.text and view.url in page.text
    assert 'action="/admin/marketing/images/upload"' not in page.text
    assert 'data-action="remove"' not in page.text
    refused = await upload(client, csrf, name="other.png")
    page = await client.get(refused.headers["location"])
    assert any("read-only access" in text for text in flashes_of(page.text))
    assert await count(world) == 1

    await client.post("/admin/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, world.globex_admin)
    page = await client.get(PAGE)
    assert "logo.png" not in page.text and "No images yet" in page.text
    taken = await client.post(f"{PAGE}/{view.image.id}/remove", data={"csrf_token": csrf})
    assert taken.status_code == 404
    assert await count(world) == 1


async def test_uploads_need_the_form_s_csrf_token(client: httpx.AsyncClient, world: World) -> None:
    await sign_in(client, world.acme_admin)
    answer = await upload(client, "forged")
    assert answer.status_code in {400, 403}
    assert await count(world) == 0


async def test_a_bad_file_is_named_and_a_good_one_stored(
    client: httpx.AsyncClient, world: World
) -> None:
    csrf = await sign_in(client, world.acme_admin)
    answer = await upload(client, csrf, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.png")
    page = await client.get(answer.headers["location"])
    assert any("x.png: SVG images are not accepted" in text for text in flashes_of(page.text))
    assert await count(world) == 0
    answer = await upload(client, csrf)
    page = await client.get(answer.headers["location"])
    assert any("Uploaded logo.png (PNG, 3 by 2 pixels" in text for text in flashes_of(page.text))
    assert await count(world) == 1


async def test_the_test_send_form_is_for_those_who_may_change_things(
    client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    campaign_id = await world.campaign()
    csrf = await sign_in(client, world.acme_viewer)
    page = await client.get(f"/admin/marketing/campaigns/{campaign_id}")
    assert "data-test-send" not in page.text
    answer = await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/test",
        data={"csrf_token": csrf, "to": "me@example.net"},
    )
    page = await client.get(answer.headers["location"])
    assert any("read-only access" in text for text in flashes_of(page.text))
    await client.post("/admin/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, world.globex_admin)
    answer = await client.post(
        f"/admin/marketing/campaigns/{campaign_id}/test",
        data={"csrf_token": csrf, "to": "me@example.net"},
    )
    assert answer.status_code == 404
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").iterdir())
