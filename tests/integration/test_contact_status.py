"""A contact's status and the suppression list agree, whichever side changes and however:
the contacts API, the suppressions API, the unsubscribe link in a message, a bounce."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, open_api
from tests.integration.contact_support import (
    contact_statuses,
    messages_to,
    send_campaign,
    suppressed,
)
from tests.integration.smtp_server import NO_SUCH_USER, SmtpServer


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def add_contacts(api: Api, *items: dict[str, object]) -> None:
    response = await api.call("acme_admin", "POST", "/contacts", json={"contacts": list(items)})
    assert response.status_code == 200, response.text


async def set_status(api: Api, email: str, status: str) -> None:
    response = await api.call("acme_admin", "PATCH", f"/contacts/{email}", json={"status": status})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


async def test_a_status_set_on_a_contact_moves_the_suppression_list(api: Api) -> None:
    await add_contacts(api, {"email": "ada@example.com"}, {"email": "bob@example.com"})
    await set_status(api, "ada@example.com", "unsubscribed")
    assert await suppressed(api.database) == {"ada@example.com": "unsubscribed"}
    await set_status(api, "ada@example.com", "blocklisted")
    assert await suppressed(api.database) == {"ada@example.com": "manual"}
    await set_status(api, "ada@example.com", "subscribed")
    assert await suppressed(api.database) == {}
    await add_contacts(
        api,
        {"email": "bob@example.com", "status": "complained"},
        {"email": "new@example.com", "status": "bounced"},
    )
    assert await suppressed(api.database) == {
        "bob@example.com": "complained",
        "new@example.com": "bounced",
    }
    listed = (await api.call("acme_admin", "GET", "/suppressions")).json()["suppressions"]
    assert {row["detail"] for row in listed} == {"contact status set by token:acme_admin"}


async def test_the_suppression_list_moves_contact_statuses(api: Api) -> None:
    await add_contacts(api, {"email": "ada@example.com"}, {"email": "bob@example.com"})
    added = await api.call(
        "acme_admin",
        "POST",
        "/suppressions",
        json={"emails": ["ada@example.com", "nobody@example.com"], "reason": "bounced"},
    )
    assert added.status_code == 201
    assert await contact_statuses(api.database) == {
        "ada@example.com": "bounced",
        "bob@example.com": "subscribed",
    }
    manual = await api.call(
        "acme_admin", "POST", "/suppressions", json={"emails": ["bob@example.com"]}
    )
    assert manual.status_code == 201
    assert (await contact_statuses(api.database))["bob@example.com"] == "blocklisted"
    removed = await api.call("acme_admin", "DELETE", "/suppressions/ada@example.com")
    assert removed.json()["removed"] == 1
    assert await contact_statuses(api.database) == {
        "ada@example.com": "subscribed",
        "bob@example.com": "blocklisted",
    }
    assert "nobody@example.com" not in await contact_statuses(api.database)


async def test_a_new_contact_takes_the_status_of_its_suppression(api: Api) -> None:
    response = await api.call(
        "acme_admin",
        "POST",
        "/suppressions",
        json={"emails": ["ada@example.com"], "reason": "complained"},
    )
    assert response.status_code == 201
    await add_contacts(api, {"email": "ada@example.com", "attributes": {"plan": "pro"}})
    assert await contact_statuses(api.database) == {"ada@example.com": "complained"}
    csv = "email,plan\nada@example.com,free\n"
    streamed = await api.call(
        "acme_admin", "POST", "/contacts", content=csv, headers={"content-type": "text/csv"}
    )
    assert streamed.json()["updated"] == 1
    assert await contact_statuses(api.database) == {"ada@example.com": "complained"}
    await add_contacts(api, {"email": "ada@example.com", "status": "subscribed"})
    assert await suppressed(api.database) == {}


async def test_an_existing_suppression_keeps_its_reason_and_the_contact_follows_it(
    api: Api,
) -> None:
    await add_contacts(api, {"email": "ada@example.com", "status": "bounced"})
    again = await api.call(
        "acme_admin",
        "POST",
        "/suppressions",
        json={"emails": ["ada@example.com"], "reason": "unsubscribed"},
    )
    assert again.json()["unchanged"] == 1
    assert await contact_statuses(api.database) == {"ada@example.com": "bounced"}


def unsubscribe_path(message: object) -> str:
    header = str(message["List-Unsubscribe"])  # type: ignore[index]
    found = re.search(r"<https?://[^/]+(/u/[^>]+)>", header)
    assert found, header
    return found.group(1)


async def test_unsubscribing_through_a_message_link_unsubscribes_the_contact(
    api: Api, settings: Settings
) -> None:
    await add_contacts(api, {"email": "ada@example.com"}, {"email": "bob@example.com"})
    await send_campaign(api.database, settings, ["ada@example.com", "bob@example.com"])
    [message] = messages_to(settings, "ada@example.com")
    path = unsubscribe_path(message)
    page = await api.client.get(path)
    assert page.status_code == 200
    assert await contact_statuses(api.database) == {
        "ada@example.com": "subscribed",
        "bob@example.com": "subscribed",
    }
    one_click = await api.client.post(
        path,
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert await contact_statuses(api.database) == {
        "ada@example.com": "unsubscribed",
        "bob@example.com": "subscribed",
    }
    assert await suppressed(api.database) == {"ada@example.com": "unsubscribed"}
    shown = await api.call("acme_admin", "GET", "/contacts?status=unsubscribed")
    assert [row["email"] for row in shown.json()["contacts"]] == ["ada@example.com"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


async def test_a_bounce_recorded_by_a_worker_marks_the_contact_bounced(
    api: Api, settings: Settings, smtp: SmtpServer
) -> None:
    await add_contacts(api, {"email": "ghost@example.org"}, {"email": "bob@example.org"})
    smtp.fail_addresses(["ghost@example.org"], NO_SUCH_USER)
    smtp_settings = settings.model_copy(
        update={"email_transport": smtp.url, "retry_backoff": 0.01, "max_attempts": 2}
    )
    await send_campaign(api.database, smtp_settings, ["ghost@example.org", "bob@example.org"])
    assert await suppressed(api.database) == {"ghost@example.org": "bounced"}
    assert await contact_statuses(api.database) == {
        "ghost@example.org": "bounced",
        "bob@example.org": "subscribed",
    }
