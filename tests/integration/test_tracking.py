"""Click and open tracking end to end: a message received by a real SMTP server, its links
followed against the real app, what is recorded, and the report's figures."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select

from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, tracking_events
from tests.integration.api_client import Api, open_api
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

BODY = """<html><body>
<p><a href="https://shop.example/winter?a=1&amp;b=2">Shop</a></p>
<p><a class="button" href='https://shop.example/winter?a=1&amp;b=2'>Shop again</a></p>
<p><a href=https://blog.example/post>Blog</a></p>
<p><a href="mailto:help@acme.example">Mail us</a></p>
<p><a href="#top">Top</a></p>
<p><a data-no-track href="https://private.example/">Private</a></p>
<p><a href="https://shop.example/for/{{ name }}">Yours</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


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
        }
    )


@pytest.fixture
async def api(database: Database, smtp_settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, smtp_settings) as api:
        yield api


async def events(api: Api) -> list[tuple[str, int | None, str | None]]:
    async with api.database.connection() as connection:
        rows = (
            await connection.execute(
                select(
                    tracking_events.c.kind,
                    tracking_events.c.link_index,
                    tracking_events.c.machine,
                ).order_by(tracking_events.c.id)
            )
        ).all()
    return [(str(kind), index, machine) for kind, index, machine in rows]


async def count_events(api: Api) -> int:
    async with api.database.connection() as connection:
        statement = select(func.count()).select_from(tracking_events)
        return int((await connection.execute(statement)).scalar_one())


async def report(api: Api, campaign_id: int, who: str = "acme_admin") -> dict[str, object]:
    response = await api.call(who, "GET", f"/campaigns/{campaign_id}/report")
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


async def test_a_tracked_link_is_recorded_and_redirects_to_the_stored_url(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    campaign_id, messages = await send_over_smtp(
        api,
        smtp_settings,
        smtp,
        htmlBody=BODY,
        recipients=[{"email": "ada@example.org", "vars": {"name": "ada"}}],
    )
    campaign = (await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}")).json()
    assert campaign["trackClicks"] is True and campaign["trackOpens"] is False
    html = html_of(messages["ada@example.org"])
    links = hrefs(html)
    tracked = [link for link in links if link.startswith(f"{PUBLIC_URL}/c/")]
    assert len(tracked) == 3
    assert tracked[0] == tracked[1]  # the same URL twice: one link, one number
    assert tracked[0] != tracked[2]
    assert "mailto:help@acme.example" in links
    assert "#top" in links
    assert "https://private.example/" in links
    assert "https://shop.example/for/ada" in links  # holds a variable: not tracked
    assert any(link.startswith(f"{PUBLIC_URL}/u/") for link in links)
    assert image_sources(html) == []  # opens are not tracked unless asked for
    assert "shop.example/winter" not in html and "blog.example" not in html

    read_later(api)
    follow = await api.client.get(path_of(tracked[0]), headers={"User-Agent": BROWSER})
    assert follow.status_code == 302
    assert follow.headers["location"] == "https://shop.example/winter?a=1&b=2"
    blog = await api.client.get(path_of(tracked[2]), headers={"User-Agent": BROWSER})
    assert blog.headers["location"] == "https://blog.example/post"
    await settled(api)
    assert await events(api) == [("click", 0, None), ("click", 1, None)]

    figures = await report(api, campaign_id)
    assert figures["outcomes"]["sent"] == 1  # type: ignore[index]
    assert figures["engagement"]["uniqueClicks"] == 1  # type: ignore[index]
    assert figures["engagement"]["clicks"] == 2  # type: ignore[index]
    assert figures["engagement"]["clickThroughRate"] == 1.0  # type: ignore[index]
    assert [(link["url"], link["clicks"]) for link in figures["links"]] == [  # type: ignore[attr-defined]
        ("https://shop.example/winter?a=1&b=2", 1),
        ("https://blog.example/post", 1),
    ]


async def test_a_click_is_answered_while_the_database_is_busy_and_written_afterwards(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    _, messages = await send_over_smtp(
        api, smtp_settings, smtp, htmlBody=BODY, recipients=["ada@example.org"]
    )
    link = path_of(
        next(link for link in hrefs(html_of(messages["ada@example.org"])) if "/c/" in link)
    )
    read_later(api)
    await api.client.get(link, headers={"User-Agent": BROWSER})  # the campaign's links read
    await settled(api)
    async with api.database.transaction() as connection:  # nobody else may write meanwhile
        if connection.dialect.name == "postgresql":
            await connection.exec_driver_sql("LOCK TABLE tracking_events IN EXCLUSIVE MODE")
        for _ in range(3):
            follow = await asyncio.wait_for(
                api.client.get(link, headers={"User-Agent": BROWSER}), timeout=10
            )
            assert follow.status_code == 302
            assert follow.headers["location"] == "https://shop.example/winter?a=1&b=2"
    await settled(api)
    assert await events(api) == [("click", 0, None)] * 4


async def test_behind_a_trusted_proxy_the_readers_own_address_is_judged(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    async with open_api(database, smtp_settings, trusted_proxies="127.0.0.1") as api:
        _, messages = await send_over_smtp(
            api,
            smtp_settings,
            smtp,
            htmlBody="<html><body><p>Hi</p></body></html>",
            trackOpens=True,
            recipients=["ada@example.org"],
        )
        image = path_of(image_sources(html_of(messages["ada@example.org"]))[0])
        read_later(api)
        for client in ("198.51.100.7", "17.58.0.1"):  # a reader, then Apple's privacy proxy
            response = await api.client.get(
                image, headers={"User-Agent": BROWSER, "X-Forwarded-For": client}
            )
            assert response.status_code == 200
        await settled(api)
        assert [machine for _, _, machine in await events(api)] == [None, "apple_privacy"]


async def test_a_forged_or_altered_token_answers_404_and_records_nothing(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    _, messages = await send_over_smtp(
        api,
        smtp_settings,
        smtp,
        htmlBody=BODY,
        trackOpens=True,
        recipients=["ada@example.org"],
    )
    html = html_of(messages["ada@example.org"])
    click = path_of(next(link for link in hrefs(html) if "/c/" in link))
    image = path_of(image_sources(html)[0])
    token = click.removeprefix("/c/")
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    read_later(api)
    for path in (
        f"/c/{altered}",
        "/c/not-a-token",
        f"/c/{image.removeprefix('/o/')}",  # an open token is no click token
        f"/o/{token}",  # nor the other way round
        "/o/x.y",
    ):
        response = await api.client.get(path, headers={"User-Agent": BROWSER})
        assert response.status_code == 404, path
        assert "location" not in response.headers
    await settled(api)
    assert await count_events(api) == 0


async def test_opens_by_people_and_machines_are_counted_apart(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    campaign_id, messages = await send_over_smtp(
        api,
        smtp_settings,
        smtp,
        htmlBody="<html><body><p>Hi</p></body></html>",
        trackOpens=True,
        recipients=["ada@example.org", "bob@example.org", "cy@example.org"],
    )
    image = {
        address: path_of(image_sources(html_of(message))[0])
        for address, message in messages.items()
    }
    assert html_of(messages["ada@example.org"]).index("/o/") < html_of(
        messages["ada@example.org"]
    ).index("</body>")
    # a security gateway fetches right after delivery: judged by the real clock
    prefetch = await api.client.get(image["cy@example.org"], headers={"User-Agent": BROWSER})
    assert prefetch.status_code == 200 and prefetch.headers["content-type"] == "image/gif"
    assert prefetch.headers["cache-control"].startswith("no-store")
    read_later(api)
    assert (
        await api.client.get(image["ada@example.org"], headers={"User-Agent": BROWSER})
    ).status_code == 200
    await api.client.get(image["ada@example.org"], headers={"User-Agent": BROWSER})
    await api.client.get(image["ada@example.org"], headers={"User-Agent": "Mozilla/5.0"})
    await api.client.get(image["bob@example.org"], headers={"User-Agent": "Mozilla/5.0"})
    await api.client.get(
        image["bob@example.org"], headers={"User-Agent": "Barracuda Sentinel (EE)"}
    )
    await settled(api)
    assert sorted(machine or "person" for _, _, machine in await events(api)) == [
        "apple_privacy",
        "apple_privacy",
        "person",
        "person",
        "prefetch",
        "scanner",
    ]
    figures = await report(api, campaign_id)
    engagement = figures["engagement"]
    assert engagement["uniqueOpens"] == 1  # type: ignore[index]
    assert engagement["machineOpens"] == 2  # type: ignore[index]
    assert engagement["opens"] == 2  # type: ignore[index]
    assert figures["machineReasons"] == {"apple_privacy": 2, "prefetch": 1, "scanner": 1}
    timeline = figures["timeline"]
    assert sum(point["opens"] for point in timeline) == 2  # type: ignore[attr-defined]


async def test_an_unsubscribed_reader_is_redirected_but_not_tracked(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    campaign_id, messages = await send_over_smtp(
        api, smtp_settings, smtp, htmlBody=BODY, recipients=["ada@example.org", "bob@example.org"]
    )
    added = await api.call(
        "acme_admin",
        "POST",
        "/suppressions",
        json={"emails": ["ada@example.org"], "reason": "unsubscribed"},
    )
    assert added.status_code < 300, added.text
    read_later(api)
    for address in ("ada@example.org", "bob@example.org"):
        link = next(link for link in hrefs(html_of(messages[address])) if "/c/" in link)
        response = await api.client.get(path_of(link), headers={"User-Agent": BROWSER})
        assert response.status_code == 302
        assert response.headers["location"] == "https://shop.example/winter?a=1&b=2"
    await settled(api)
    assert await events(api) == [("click", 0, None)]  # bob's only
    figures = await report(api, campaign_id)
    assert figures["outcomes"]["unsubscribed"] == 1  # type: ignore[index]
    assert figures["outcomes"]["delivered"] == 2  # type: ignore[index]
    export = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/report/export")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(row["email"], row["status"], row["clicked"], row["unsubscribed"]) for row in rows] == [
        ("ada@example.org", "sent", "no", "yes"),
        ("bob@example.org", "sent", "yes", "no"),
    ]
    assert all(row["sent_at"].endswith("Z") and row["opened"] == "no" for row in rows)


async def test_another_organizations_report_is_not_found(
    api: Api, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    campaign_id, _ = await send_over_smtp(
        api, smtp_settings, smtp, htmlBody=BODY, recipients=["ada@example.org"]
    )
    for path in (f"/campaigns/{campaign_id}/report", f"/campaigns/{campaign_id}/report/export"):
        response = await api.call("globex_admin", "GET", path)
        assert response.status_code == 404, path
        assert "ada@example.org" not in response.text
    assert (
        await api.call("acme_viewer", "GET", f"/campaigns/{campaign_id}/report")
    ).status_code == 200
    theirs = await api.call("globex_admin", "GET", "/campaigns/compare")
    assert theirs.status_code == 200 and theirs.json()["campaigns"] == []
    ours = await api.call("acme_admin", "GET", "/campaigns/compare?limit=5")
    assert [item["campaignId"] for item in ours.json()["campaigns"]] == [campaign_id]
    assert (await api.call("platform", "GET", "/campaigns/compare")).status_code == 422


async def test_tracking_is_chosen_per_campaign_and_existing_rows_are_off(api: Api) -> None:
    off = await api.create("acme_admin", htmlBody=BODY, trackClicks=False)
    assert off["trackClicks"] is False
    changed = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{off['id']}", json={"trackOpens": True}
    )
    assert changed.status_code == 200 and changed.json()["trackOpens"] is True
    refused = await api.call(
        "acme_admin", "PATCH", f"/campaigns/{off['id']}", json={"trackClicks": None}
    )
    assert refused.status_code == 422 and "trackClicks" in refused.json()["detail"]
    async with api.database.transaction() as connection:
        # a row written without the columns, as rows from before tracking are
        await connection.execute(
            campaigns.insert().values(
                organization_id=(await api.rows(campaigns))[0]["organization_id"],
                name="Old",
                subject="Old",
                text_body="Old",
                status="draft",
                created_by="test",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    old = next(row for row in await api.rows(campaigns) if row["name"] == "Old")
    assert old["track_clicks"] is False and old["track_opens"] is False
