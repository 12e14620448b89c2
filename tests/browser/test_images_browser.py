"""The images page in a real Chromium at phone and desktop widths: upload, see the served
thumbnails decode, copy a URL, be told what is wrong with a file that is not an image,
remove one."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from campaignd.settings import Settings
from campaignd.store.migrate import upgrade
from tests.browser.server import LiveServer, Seeder
from tests.browser.test_admin_browser import admin, sign_in
from tests.integration.image_samples import GIF, JPEG, WEBP, png

pytestmark = pytest.mark.browser


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        email_transport=f"file://{tmp_path / 'outbox'}",
        images_dir=str(tmp_path / "images"),
        public_url="https://news.acme.example",
    )


def upload_file(name: str, data: bytes, kind: str) -> dict[str, object]:
    return {"name": name, "mimeType": kind, "buffer": data}


@pytest.mark.parametrize("width", [390, 1280])
def test_upload_see_copy_and_remove(
    browser: Browser, server: LiveServer, seeder: Seeder, width: int, tmp_path: Path
) -> None:
    token = admin(seeder)
    context = browser.new_context(viewport={"width": width, "height": 860})
    page = context.new_page()
    sign_in(page, server, token)
    page.click("nav >> text=Settings")
    page.click(".settings-list >> text=Images")
    expect(page.locator("h1")).to_have_text("Images")
    expect(page.get_by_text("No images yet")).to_be_visible()

    page.set_input_files(
        "#images-file",
        [
            upload_file("logo.png", png(40, 20), "image/png"),
            upload_file("photo.jpg", JPEG, "image/jpeg"),
            upload_file("dot.gif", GIF, "image/gif"),
            upload_file("small.webp", WEBP, "image/webp"),
        ],
    )
    page.click("button[data-action=upload]")
    expect(page.locator(".flash--success")).to_contain_text(
        "Uploaded logo.png (PNG, 40 by 20 pixels"
    )
    cards = page.locator("[data-image]")
    expect(cards).to_have_count(4)
    names = cards.locator("[data-image-name]").all_inner_texts()
    assert names == ["small.webp", "dot.gif", "photo.jpg", "logo.png"]
    for image in cards.locator("img").all():
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("element => element.naturalWidth") > 0, image.get_attribute("src")
    logo = cards.filter(has_text="logo.png")
    url = logo.locator("[data-image-url]").input_value()
    assert url.startswith("https://news.acme.example/images/acme/") and url.endswith(".png")
    logo.locator("button[data-copy]").click()
    expect(logo.locator("button[data-copy]")).to_have_text("Copied")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.set_input_files(
        "#images-file", [upload_file("renamed.png", b"just text, not a picture", "image/png")]
    )
    page.click("button[data-action=upload]")
    expect(page.locator(".flash--error")).to_contain_text(
        "renamed.png: the file is not a PNG, JPEG, GIF or WebP image"
    )
    expect(cards).to_have_count(4)

    page.once("dialog", lambda dialog: dialog.accept())
    logo.locator("button[data-action=remove]").click()
    expect(page.locator(".flash--success")).to_contain_text("logo.png is removed")
    expect(cards).to_have_count(3)
    path = url.removeprefix("https://news.acme.example")
    assert page.request.get(server.url + path).status == 404
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
