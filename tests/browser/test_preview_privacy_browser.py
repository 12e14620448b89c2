"""A message preview in the admin UI loads nothing remote: a tracking pixel never fires."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TIME_ZONE
from tests.browser.server import LiveServer, Seeder
from tests.integration.smtp_server import make_certificate

pytestmark = pytest.mark.browser

GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)

CONTROL_PAGE = '<!doctype html><img src="/control.gif" alt="">'


class PixelServer:
    """A real HTTP server on a loopback port that records every request it gets."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/page":  # a page of its own with the image, no policy
                    body, kind = CONTROL_PAGE.encode(), "text/html"
                elif self.path == "/favicon.ico":  # the browser asks on its own for /page
                    self.send_error(404)
                    return
                else:
                    hits.append(self.path)
                    body, kind = GIF, "image/gif"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return None

        self.hits = hits
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PixelServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(params=["http", "https"])
def pixel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PixelServer]:
    tls = None
    if request.param == "https":
        tls = make_certificate(tmp_path / "tls").server_context()
    with PixelServer(tls) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page that accepts the pixel server's self-signed certificate."""
    context = browser.new_context(ignore_https_errors=True, timezone_id=TIME_ZONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_a_remote_image_in_a_preview_does_not_load(
    page: Page, server: LiveServer, seeder: Seeder, pixel: PixelServer
) -> None:
    acme = seeder.organization("acme", "Acme")
    token = seeder.token("organization_admin", acme, "dana")
    html_body = (
        "<p data-ready>Hello {{ email }}</p>"
        f'<img src="{pixel.url}/pixel.gif?to={{{{ email }}}}" width="1" height="1" alt="">'
        f'<div style="background-image:url({pixel.url}/background.gif)">news</div>'
        f'<link rel="stylesheet" href="{pixel.url}/style.css">'
        f'<video poster="{pixel.url}/poster.gif"></video>'
    )
    campaign_id = seeder.campaign("acme", "Tracked", ["ann@example.org"], html_body=html_body)
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    page.goto(f"{server.url}/admin/login")
    page.fill("#token", token)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(re.compile(r"/admin/marketing/campaigns"))
    page.goto(f"{server.url}/admin/marketing/campaigns/{campaign_id}#message")
    preview = page.locator("iframe.email-preview")
    preview.scroll_into_view_if_needed()
    expect(page.frame_locator("iframe.email-preview").locator("[data-ready]")).to_have_text(
        "Hello ann@example.org"
    )
    deadline = time.monotonic() + 10  # the browser has weighed the images: it refused them
    while not any(pixel.url in text for text in refused) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert any(pixel.url in text for text in refused), refused
    assert pixel.hits == []

    # an image in a page without the admin UI's policy does reach the server
    page.goto(f"{pixel.url}/page")
    deadline = time.monotonic() + 5
    while "/control.gif" not in pixel.hits and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pixel.hits == ["/control.gif"]
