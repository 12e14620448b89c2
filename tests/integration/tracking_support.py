"""What the tracking tests share: a campaign made over the API, sent to a real SMTP server,
and the links of the message it received."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage
from typing import Any

from campaignd.actions.tracking import Tracker
from campaignd.domain.lifecycle import Trigger
from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.fanout import CooldownRules, fan_out
from campaignd.store.runs import start_campaign
from tests.integration.api_client import Api
from tests.integration.delivery_support import worker
from tests.integration.smtp_server import SmtpServer

PUBLIC_URL = "http://campaignd.test"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
LATER = 120.0
"""Seconds after sending that a person's click is judged at (past the prefetch window)."""


def read_later(api: Api, seconds: float = LATER) -> None:
    """Judge every fetch as if it came ``seconds`` after the message was sent."""
    app = api.client._transport.app  # type: ignore[attr-defined]
    earlier = getattr(app.state, "tracker", None)
    if earlier is not None:  # what it answered may still be on its way to the database
        app.state.earlier_trackers = [*getattr(app.state, "earlier_trackers", []), earlier]
    app.state.tracker = Tracker(api.database, clock=lambda: time.time() + seconds)


async def settled(api: Api) -> None:
    """Wait until the opens and clicks the app answered are written (it answers first)."""
    app = api.client._transport.app  # type: ignore[attr-defined]
    for tracker in [
        *getattr(app.state, "earlier_trackers", []),
        getattr(app.state, "tracker", None),
    ]:
        if tracker is not None:
            await tracker.settled()


async def send_over_smtp(
    api: Api, settings: Settings, smtp: SmtpServer, *, who: str = "acme_admin", **fields: Any
) -> tuple[int, dict[str, EmailMessage]]:
    """Create a campaign of acme (of ``who``'s organization) over the API, start it, fan it
    out and send it: its id and the message each recipient got."""
    created = await api.create(who, **fields)
    campaign_id = int(created["id"])
    async with api.database.transaction() as connection:
        run = await start_campaign(
            connection, campaign_id, trigger=Trigger.MANUAL, actor="test", now=utcnow()
        )
        assert run is not None
    async with api.database.transaction() as connection:
        await fan_out(
            connection, campaign_id, rules=CooldownRules(days=0, scope="global"), now=utcnow()
        )
    before = len(smtp.messages)
    await worker(api.database, settings).run_burst()
    received = smtp.messages[before:]
    return campaign_id, {message.recipients[0]: message.parsed() for message in received}


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def hrefs(html: str) -> list[str]:
    return re.findall(r'<a\b[^>]*\shref="([^"]*)"', html)


def image_sources(html: str) -> list[str]:
    return re.findall(r'<img\b[^>]*\ssrc="([^"]*)"', html)


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC_URL), url
    return url[len(PUBLIC_URL) :]
