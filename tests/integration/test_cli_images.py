"""``campaignd image`` against real databases: add, list, remove; bad files named and
nothing stored for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from campaignd.store.schema import audit_log, images
from tests.integration.image_samples import GIF, SVG, png
from tests.integration.test_cli_campaigns import count, engine, invoke, ok

__all__ = ["engine"]


@pytest.fixture
def folder(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAMPAIGND_IMAGES_DIR", str(tmp_path / "stored"))
    monkeypatch.setenv("CAMPAIGND_PUBLIC_URL", "https://news.acme.example")
    monkeypatch.setenv("CAMPAIGND_IMAGE_MAX_BYTES", "2048")
    ok("org", "create", "acme")
    (tmp_path / "logo.png").write_bytes(png())
    (tmp_path / "dot.gif").write_bytes(GIF)
    (tmp_path / "fake.png").write_bytes(b"I am text")
    (tmp_path / "icon.svg").write_bytes(SVG)
    (tmp_path / "big.png").write_bytes(png()[:24] + bytes(4096))
    return tmp_path


def test_add_list_and_remove(engine: Engine, folder: Path) -> None:
    result = ok("image", "add", "--org", "acme", str(folder / "logo.png"), str(folder / "dot.gif"))
    urls = result.stdout.split()
    assert len(urls) == 2
    assert all(url.startswith("https://news.acme.example/images/acme/") for url in urls)
    assert urls[0].endswith(".png") and urls[1].endswith(".gif")
    stored = sorted(path.name for path in (folder / "stored" / "acme").iterdir())
    assert stored == sorted(url.rsplit("/", 1)[1] for url in urls)

    again = ok("image", "add", "--org", "acme", str(folder / "logo.png"))
    assert again.stdout.split() == urls[:1] and "has this image already" in again.stderr

    document = json.loads(ok("image", "list", "--org", "acme", "--json").stdout)
    assert [item["name"] for item in document["images"]] == ["dot.gif", "logo.png"]
    assert document["images"][1]["url"] == urls[0]
    assert document["images"][1]["width"] == 3
    table = ok("image", "list", "--org", "acme").stdout
    assert "logo.png" in table and "image/gif" in table

    image_id = str(document["images"][0]["id"])
    assert "removed image" in ok("image", "remove", image_id).stdout
    assert not (folder / "stored" / "acme" / urls[1].rsplit("/", 1)[1]).exists()
    assert count(engine, images) == 1
    assert invoke("image", "remove", image_id).exit_code == 1
    assert count(engine, audit_log, audit_log.c.action == "image.remove") == 1


def test_refused_files_are_named_and_the_rest_added(engine: Engine, folder: Path) -> None:
    result = invoke(
        "image", "add", "--org", "acme",
        str(folder / "fake.png"), str(folder / "icon.svg"), str(folder / "big.png"),
        str(folder / "logo.png"), str(folder / "missing.png"),
    )  # fmt: skip
    assert result.exit_code == 1
    words = " ".join(result.stderr.split())
    assert "fake.png: image: the file is not a PNG, JPEG, GIF or WebP image" in words
    assert "icon.svg: image: SVG images are not accepted" in words
    assert "big.png: image: the file is larger than the limit of 2048 bytes" in words
    assert "missing.png" in words
    assert len(result.stdout.split()) == 1
    assert count(engine, images) == 1
    assert len(list((folder / "stored" / "acme").iterdir())) == 1
    assert "no organization 'nope'" in " ".join(
        invoke("image", "list", "--org", "nope").output.split()
    )
