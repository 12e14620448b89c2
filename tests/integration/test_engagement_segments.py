"""Segments by engagement, end to end on both databases: campaigns sent to a real SMTP
server, their tracked links followed and images fetched against the real app (by people and
by machines), then filters that ask who was sent, opened or clicked what, counted over the
API and used as a campaign's audience; another organization's campaigns of the same name
never count."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select

from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import segments, tracking_events
from tests.integration.api_client import Api, open_api
from tests.integration.delivery_support import worker
from tests.integration.scheduling_helpers import scheduler_for
from tests.integration.shifted_clock import clock_at
from tests.integration.smtp_server import SmtpServer
from tests.integration.tracking_support import (
    BROWSER,
    PUBLIC_URL,
    hrefs,
    html_of,
    image_sources,
    path_of,
    read_later,
    send_over_smtp,
    settled,
)

BODY = '<html><body><p><a href="https://shop.example/spring">Shop the sale</a></p></body></html>'
APPLE_PROXY = "Mozilla/5.0"
SCANNER = "Barracuda Sentinel (EE)"
ADA, BOB, CY, DEE, EVE = (f"{name}@example.org" for name in ("ada", "bob", "cy", "dee", "eve"))
SPRING = "Spring sale"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "email_transport": smtp.url,
            "public_url": PUBLIC_URL,
            "from_address": "News <news@acme.example>",
            "retry_backoff": 0.01,
            "cooldown_days": 0,
        }
    )


@pytest.fixture
async def api(database: Database, smtp_settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, smtp_settings) as handle:
        yield handle


async def add_people(api: Api, who: str, emails: list[str]) -> None:
    body = {"contacts": [{"email": email} for email in emails]}
    response = await api.call(who, "POST", "/contacts", json=body)
    assert response.status_code == 200, response.text


async def follow(api: Api, message: EmailMessage, *, agent: str = BROWSER) -> None:
    link = next(link for link in hrefs(html_of(message)) if "/c/" in link)
    response = await api.client.get(path_of(link), headers={"User-Agent": agent})
    assert response.status_code == 302


async def fetch_image(api: Api, message: EmailMessage, *, agent: str = BROWSER) -> None:
    image = image_sources(html_of(message))[0]
    response = await api.client.get(path_of(image), headers={"User-Agent": agent})
    assert response.status_code == 200


async def spring_sale(api: Api, settings: Settings, smtp: SmtpServer) -> None:
    """acme sends "Spring sale" (links and opens tracked) to ada, bob, cy and dee: ada opens
    it and clicks, bob opens it, cy's opens and clicks are machines' (Apple's privacy proxy,
    a link scanner), dee does nothing; eve, a contact of acme, is not mailed. globex sends
    its own "Spring sale" to bob and eve, who both open it and click."""
    await add_people(api, "acme_admin", [ADA, BOB, CY, DEE, EVE])
    await add_people(api, "globex_admin", [BOB, EVE])
    fields = {"name": SPRING, "htmlBody": BODY, "trackOpens": True}
    _, acme = await send_over_smtp(api, settings, smtp, recipients=[ADA, BOB, CY, DEE], **fields)
    _, globex = await send_over_smtp(
        api, settings, smtp, who="globex_admin", recipients=[BOB, EVE], **fields
    )
    assert sorted(acme) == [ADA, BOB, CY, DEE] and sorted(globex) == [BOB, EVE]
    read_later(api)
    await fetch_image(api, acme[ADA])
    await follow(api, acme[ADA])
    await fetch_image(api, acme[BOB])
    await fetch_image(api, acme[CY], agent=APPLE_PROXY)
    await follow(api, acme[CY], agent=SCANNER)
    for message in globex.values():
        await fetch_image(api, message)
        await follow(api, message)
    await settled(api)  # the app answers first and writes its opens and clicks just after
    async with api.database.connection() as connection:
        machines = await connection.scalar(
            select(func.count())
            .select_from(tracking_events)
            .where(tracking_events.c.machine.is_not(None))
        )
    assert machines == 2  # cy's open and click were recorded, as a machine's


async def selected(api: Api, who: str, document: Any) -> list[str]:
    """The addresses a filter selects now, over the API (the count and its sample agree)."""
    response = await api.call(who, "POST", "/segments/count", json={"filter": document})
    assert response.status_code == 200, response.text
    answer = response.json()
    emails = [contact["email"] for contact in answer["sample"]]
    assert answer["count"] == len(emails)
    return emails


def sent(campaign: str | None = None, **more: str) -> dict[str, str]:
    return {"engagement": "sent", **({"campaign": campaign} if campaign else {}), **more}


def opened(campaign: str | None = None, **more: str) -> dict[str, str]:
    return {"engagement": "opened", **({"campaign": campaign} if campaign else {}), **more}


def clicked(campaign: str | None = None, **more: str) -> dict[str, str]:
    return {"engagement": "clicked", **({"campaign": campaign} if campaign else {}), **more}


async def test_engagement_selects_who_did_what_with_the_organizations_campaigns(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    await spring_sale(api, smtp_settings, smtp)

    assert await selected(api, "acme_admin", sent(SPRING)) == [ADA, BOB, CY, DEE]
    assert await selected(api, "acme_admin", sent()) == [ADA, BOB, CY, DEE]
    assert await selected(api, "acme_admin", {"not": sent()}) == [EVE]
    # people's opens and clicks only: cy's machines do not count
    assert await selected(api, "acme_admin", opened(SPRING)) == [ADA, BOB]
    assert await selected(api, "acme_admin", clicked()) == [ADA]
    assert await selected(api, "acme_admin", clicked(SPRING, within="1h")) == [ADA]
    non_openers = {"all": [sent(SPRING), {"not": opened(SPRING)}]}
    assert await selected(api, "acme_admin", non_openers) == [CY, DEE]
    # bob and eve clicked globex's "Spring sale": that is globex's, never acme's
    assert await selected(api, "globex_admin", clicked(SPRING)) == [BOB, EVE]
    assert await selected(api, "globex_admin", opened()) == [BOB, EVE]
    assert await selected(api, "globex_admin", {"not": sent(SPRING)}) == []

    saved = await api.call(
        "acme_admin",
        "POST",
        "/segments",
        json={"name": "Did not open", "filter": non_openers},
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["filterText"] == ('received "Spring sale" and not opened "Spring sale"')
    counted = await api.call("acme_viewer", "GET", "/segments/Did%20not%20open/count")
    assert counted.json()["count"] == 2


async def test_a_window_looks_back_from_the_moment_of_the_count(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    await spring_sale(api, smtp_settings, smtp)
    assert await selected(api, "acme_admin", clicked(within="30d")) == [ADA]

    with clock_at(utcnow() + timedelta(days=31)):
        assert await selected(api, "acme_admin", clicked(within="30d")) == []
        assert await selected(api, "acme_admin", sent(SPRING, within="30d")) == []
        assert await selected(api, "acme_admin", opened(within="5w")) == [ADA, BOB]
        assert await selected(api, "acme_admin", clicked()) == [ADA]
        lapsed = {"all": [opened(), {"not": opened(within="30d")}]}
        assert await selected(api, "acme_admin", lapsed) == [ADA, BOB]


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        (opened("Autumn"), "filter.campaign: acme has no campaign named 'Autumn'"),
        (
            {"all": [clicked(within="90d"), {"not": opened("Globex only")}]},
            "filter.all[1].not.campaign: acme has no campaign named 'Globex only'",
        ),
        (
            {"engagement": "viewed"},
            'filter.engagement: "viewed" is not an engagement; one of "sent", "opened", "clicked"',
        ),
        (clicked(within="30 days"), 'filter.within: "30 days" is not a time window'),
        ({"campaign": SPRING}, 'filter.engagement: is required: "sent", "opened" or "clicked"'),
    ],
)
async def test_bad_engagement_conditions_are_refused_with_their_path(
    api: Api, document: Any, detail: str
) -> None:
    """A campaign name the organization does not have is refused like an unknown list,
    even when another organization has a campaign of that name."""
    await api.create("acme_admin", name=SPRING)
    await api.create("globex_admin", name="Globex only")
    before = await api.snapshot()
    for path, body in [
        ("/segments", {"name": "Bad", "filter": document}),
        ("/segments/count", {"filter": document}),
    ]:
        response = await api.call("acme_admin", "POST", path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith(detail)
    assert await api.snapshot() == before
    assert await api.rows(segments) == []
    theirs = await api.call(
        "globex_admin", "POST", "/segments/count", json={"filter": opened("Globex only")}
    )
    assert theirs.status_code == 200 and theirs.json()["count"] == 0


async def test_a_campaign_to_engagement_segments_mails_exactly_the_engaged_people(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    await spring_sale(api, smtp_settings, smtp)
    for name, document in [
        ("Clicked the sale", clicked(SPRING)),
        ("Did not open the sale", {"all": [sent(SPRING), {"not": opened(SPRING)}]}),
        ("Clicked anything lately", clicked(within="1d")),
    ]:
        response = await api.call(
            "acme_admin", "POST", "/segments", json={"name": name, "filter": document}
        )
        assert response.status_code == 201, response.text
    created = await api.create(
        name="Second chance",
        subject="Still thinking?",
        textBody="The sale ends soon.",
        segments=["Clicked the sale", "Did not open the sale", "Clicked anything lately"],
    )
    preview = await api.call("acme_admin", "POST", f"/campaigns/{created['id']}/preview")
    assert preview.json()["totalRecipients"] == 3
    before = len(smtp.messages)
    executed = await api.call("acme_admin", "POST", f"/campaigns/{created['id']}/execute")
    assert executed.status_code == 202, executed.text

    await scheduler_for(api.database, smtp_settings).run_burst()
    await worker(api.database, smtp_settings).run_burst()
    await scheduler_for(api.database, smtp_settings).run_burst()

    mailed = Counter(
        address for message in smtp.messages[before:] for address in message.recipients
    )
    assert mailed == Counter([ADA, CY, DEE])
    assert {message.parsed()["Subject"] for message in smtp.messages[before:]} == {
        "Still thinking?"
    }
    shown = (await api.call("acme_admin", "GET", f"/campaigns/{created['id']}")).json()
    assert shown["status"] == "sent" and shown["counts"] == {"sent": 3}
