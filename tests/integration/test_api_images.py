"""Images over the API on real databases: upload (checked by content), serve (bytes and
headers), list, remove; bad files refused storing nothing; one organization never sees or
removes another's."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import images
from tests.integration.api_client import Api, open_api
from tests.integration.image_samples import GIF, JPEG, SVG, WEBP, png

PUBLIC_URL = "https://news.acme.example"
LIMIT = 4096


@pytest.fixture
def images_dir(tmp_path: Path) -> Path:
    return tmp_path / "images"


@pytest.fixture
async def api(database: Database, settings: Settings, images_dir: Path) -> AsyncIterator[Api]:
    async with open_api(
        database,
        settings,
        public_url=PUBLIC_URL,
        images_dir=str(images_dir),
        image_max_bytes=LIMIT,
    ) as handle:
        yield handle


async def upload(
    api: Api,
    data: bytes,
    name: str = "picture.png",
    who: str = "acme_admin",
    kind: str = "image/png",
    **params: str,
) -> httpx.Response:
    return await api.call(
        who, "POST", "/images", files={"image": (name, data, kind)}, params=params
    )


async def listed(api: Api, who: str = "acme_admin", **params: str) -> list[dict[str, Any]]:
    answer = await api.call(who, "GET", "/images", params=params)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()["images"]
    return result


def stored_files(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(
        str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()
    )


@pytest.mark.parametrize(
    ("data", "name", "kind", "extension"),
    [
        (png(3, 2), "logo.png", "image/png", "png"),
        (JPEG, "photo.jpeg", "image/jpeg", "jpg"),
        (GIF, "dot.gif", "image/gif", "gif"),
        (WEBP, "small.webp", "image/webp", "webp"),
    ],
    ids=["png", "jpeg", "gif", "webp"],
)
async def test_an_upload_is_served_as_stored_with_long_cache_headers(
    api: Api, images_dir: Path, data: bytes, name: str, kind: str, extension: str
) -> None:
    answer = await upload(api, data, name, kind="application/octet-stream")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    digest = hashlib.sha256(data).hexdigest()
    path = f"/images/acme/{digest}.{extension}"
    assert body["url"] == PUBLIC_URL + path
    assert (body["name"], body["mediaType"], body["size"], body["hash"]) == (
        name,
        kind,
        len(data),
        digest,
    )
    assert body["createdBy"] == "token:acme_admin"
    served = await api.client.get(path)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == kind
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["x-content-type-options"] == "nosniff"
    head = await api.client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert stored_files(images_dir) == [f"acme/{digest}.{extension}"]
    assert [item["id"] for item in await listed(api)] == [body["id"]]
    [entry] = [row for row in await api.audit() if row["action"] == "image.add"]
    assert entry["target"] == str(body["id"])


async def test_the_same_bytes_again_are_the_same_image(api: Api, images_dir: Path) -> None:
    first = await upload(api, png(), "a.png")
    again = await upload(api, png(), "b.png")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["name"] == "a.png"
    other = await upload(api, png(colour=(1, 2, 3)), "c.png")
    assert other.status_code == 201
    assert [item["name"] for item in await listed(api)] == ["c.png", "a.png"]
    assert len(stored_files(images_dir)) == 2


async def test_a_file_name_with_folders_keeps_only_its_name(api: Api) -> None:
    answer = await upload(api, png(), "../../etc/evil.png")
    assert answer.status_code == 201 and answer.json()["name"] == "evil.png"
    answer = await upload(api, GIF, "C:\\Users\\me\\dot.gif")
    assert answer.status_code == 201 and answer.json()["name"] == "dot.gif"


@pytest.mark.parametrize(
    ("data", "name", "status", "words"),
    [
        (b"just some text, honestly", "renamed.png", 422, "image: the file is not a PNG, JPEG"),
        (SVG, "drawing.svg", 422, "SVG images are not accepted"),
        (b"", "empty.png", 422, "image: the file is empty"),
        (png()[:20], "cut.png", 422, "header is damaged"),
        (png(300, 300, colour=(1, 2, 3))[:8] + bytes(LIMIT), "huge.png", 413, "larger than"),
    ],
    ids=["text-renamed-png", "svg", "empty", "truncated", "oversized"],
)
async def test_bad_files_are_refused_naming_the_problem_and_store_nothing(
    api: Api, images_dir: Path, data: bytes, name: str, status: int, words: str
) -> None:
    answer = await upload(api, data, name)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"]
    assert await listed(api) == []
    assert stored_files(images_dir) == []
    assert await api.rows(images) == []


async def test_bodies_that_are_not_an_upload_are_refused(api: Api) -> None:
    answer = await api.call("acme_admin", "POST", "/images", json={"image": "x"})
    assert answer.status_code == 415
    assert "multipart/form-data" in answer.json()["detail"]
    answer = await api.call(
        "acme_admin", "POST", "/images", files={"picture": ("a.png", png(), "image/png")}
    )
    assert answer.status_code == 422 and "image: is required" in answer.json()["detail"]
    assert await api.rows(images) == []


async def test_one_organization_never_sees_or_removes_another_s_images(
    api: Api, images_dir: Path
) -> None:
    mine = (await upload(api, png())).json()
    assert await listed(api, "globex_admin") == []
    answer = await api.call("globex_admin", "DELETE", f"/images/{mine['id']}")
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"image {mine['id']} not found"
    answer = await upload(api, png(), who="globex_admin", organization="acme")
    assert answer.status_code == 422 and "you belong to 'globex'" in answer.json()["detail"]
    assert len(await listed(api)) == 1
    assert await listed(api, "acme_viewer") == await listed(api)
    assert (await upload(api, GIF, who="acme_viewer")).status_code == 403
    assert (await api.call("acme_viewer", "DELETE", f"/images/{mine['id']}")).status_code == 403
    assert (await api.call("platform", "GET", "/images")).status_code == 422
    assert len(await listed(api, "platform", organization="acme")) == 1
    answer = await upload(api, GIF, who="platform", organization="globex")
    assert answer.status_code == 201 and answer.json()["url"].startswith(
        f"{PUBLIC_URL}/images/globex/"
    )
    assert (await api.call(None, "GET", "/images")).status_code == 401


async def test_a_removed_image_is_no_longer_served(api: Api, images_dir: Path) -> None:
    image = (await upload(api, png())).json()
    path = image["url"].removeprefix(PUBLIC_URL)
    answer = await api.call("acme_admin", "DELETE", f"/images/{image['id']}")
    assert answer.status_code == 204
    assert (await api.client.get(path)).status_code == 404
    assert stored_files(images_dir) == [] and await listed(api) == []
    assert (await api.call("acme_admin", "DELETE", f"/images/{image['id']}")).status_code == 404
    assert (await api.call("acme_admin", "DELETE", "/images/0")).status_code == 404
    assert [row["action"] for row in await api.audit() if row["action"].startswith("image.")] == [
        "image.add",
        "image.remove",
    ]


async def test_only_names_campaignd_makes_are_served(api: Api, images_dir: Path) -> None:
    image = (await upload(api, png())).json()
    (images_dir / "secret.txt").write_text("not for anyone")
    digest = image["hash"]
    for path in (
        "/images/acme/..%2Fsecret.txt",
        "/images/..%2F/secret.txt",
        "/images/ACME/" + digest + ".png",
        "/images/acme/" + digest + ".svg",
        "/images/acme/" + digest + ".jpg",
        "/images/acme/" + digest[:-1] + ".png",
        "/images/globex/" + digest + ".png",
    ):
        answer = await api.client.get(path)
        assert answer.status_code == 404, path
        assert b"not for anyone" not in answer.content
