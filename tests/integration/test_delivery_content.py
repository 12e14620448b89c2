"""What recipients get, read back from a real SMTP server with the standard library: the
layout applied, Markdown rendered, the CSS inlined, the text part made from the HTML (or
the text body written), personal values never read as Markdown or HTML, and the layout as it
was when the campaign started."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage

import pytest

from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out
from tests.integration.api_client import Api, open_api
from tests.integration.delivery_support import worker
from tests.integration.smtp_server import SmtpServer

LAYOUT = """<html><head><style>
h1 { color: #c2410c; font-family: Georgia, serif; }
.footer { font-size: 12px; color: #6b7280; }
</style></head><body>
<div class="header">ACME Outdoor</div>
{{ content }}
<p class="footer">ACME Ltd, 1 Trail Road. <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""

MARKDOWN = """# Spring news for {{ name }}

Our **new tents** are in. Read [the catalogue](https://acme.example/catalogue).

| Tent | Price |
|------|-------|
| Ridge | 120 |

- light
- warm

Your note: {{ note }}
"""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def api(database: Database, settings: Settings, smtp: SmtpServer) -> AsyncIterator[Api]:
    async with open_api(
        database,
        settings,
        email_transport=smtp.url,
        public_url="https://mail.example.org",
        from_address="News <news@acme.example>",
    ) as handle:
        yield handle


async def start(api: Api, body: dict[str, object]) -> int:
    created = await api.call("acme_admin", "POST", "/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    executed = await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")
    assert executed.status_code == 202, executed.text
    settings = api.services.settings
    async with api.database.transaction() as connection:
        rules = CooldownRules(days=settings.cooldown_days, scope=settings.cooldown_scope)
        await fan_out(connection, campaign_id, rules=rules, now=utcnow())
    return campaign_id


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


async def test_a_markdown_campaign_in_a_layout_as_received(api: Api, smtp: SmtpServer) -> None:
    added = await api.call(
        "acme_admin", "POST", "/layouts", json={"name": "brand", "html": LAYOUT, "default": True}
    )
    assert added.status_code == 201, added.text
    await start(
        api,
        {
            "name": "Spring",
            "subject": "Spring news",
            "bodyFormat": "markdown",
            "htmlBody": MARKDOWN,
            "recipients": [
                {"email": "ada@example.org", "vars": {"name": "Ada", "note": "*not bold* <b>x</b>"}}
            ],
        },
    )
    # edited after the start: the campaign keeps the layout it started with
    edited = await api.call(
        "acme_admin", "PATCH", "/layouts/brand", json={"html": "<p>CHANGED</p>{{ content }}"}
    )
    assert edited.status_code == 200
    await worker(api.database, api.services.settings).run_burst()

    [received] = smtp.messages
    message = received.parsed()
    text, html = parts(message)
    link = str(message["List-Unsubscribe"]).strip("<>")

    assert "ACME Outdoor" in html and "CHANGED" not in html
    inlined = '<h1 style="color: #c2410c;font-family: Georgia, serif;">Spring news for Ada</h1>'
    assert inlined in html  # the layout's CSS, inlined
    assert "<strong>new tents</strong>" in html
    # the Markdown link, tracked like any link of the final HTML (clicks are on by default);
    # the text part keeps the address as written
    assert re.search(r'<a href="https://mail\.example\.org/c/[^"]+">the catalogue</a>', html)
    assert "<th>Tent</th>" in html and "<td>Ridge</td>" in html
    assert "<li>light</li>" in html
    assert 'class="footer" style="font-size: 12px;' in html
    assert f'<a href="{link}">Unsubscribe</a>' in html
    assert "Your note: *not bold* &lt;b&gt;x&lt;/b&gt;" in html  # a value stays text
    assert "<em>not bold</em>" not in html

    assert "<" not in text.replace("<b>x</b>", "")  # no markup left but the value's own
    lines = text.splitlines()
    heading = lines.index("Spring news for Ada")
    assert set(lines[heading + 1]) == {"="}
    assert "Our new tents are in. Read the catalogue (https://acme.example/catalogue)." in text
    assert "- light" in lines and "- warm" in lines
    assert "Ridge  120" in text
    assert f"Unsubscribe ({link})" in text
    assert "Your note: *not bold* <b>x</b>" in text
    assert "ACME Outdoor" in text and "font-size" not in text


async def test_a_text_body_written_wins_and_no_layout_means_the_body_alone(
    api: Api, smtp: SmtpServer
) -> None:
    await api.call("acme_admin", "POST", "/layouts", json={"name": "brand", "html": LAYOUT})
    await start(
        api,
        {
            "name": "Written",
            "subject": "Hi",
            "htmlBody": "<p>Hello <b>{{ email }}</b></p>",
            "textBody": "Hello, written by hand.",
            "layout": None,
            "recipients": ["bob@example.org"],
        },
    )
    await worker(api.database, api.services.settings).run_burst()
    text, html = parts(smtp.messages[0].parsed())
    assert text.startswith("Hello, written by hand.")
    assert "ACME Outdoor" not in html and "<b>bob@example.org</b>" in html
