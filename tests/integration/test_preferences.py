"""The unsubscribe link's page as a preference centre: leave one list and keep the others,
leave everything (suppressed, as before), or stay; the RFC 8058 one-click POST still
unsubscribes from everything; another organization's lists never show."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from campaignd.delivery.unsubscribe import make_token
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import contacts, list_members, lists, organizations, suppressions
from campaignd.store.secrets import instance_secret
from tests.integration.api_client import Api, open_api

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        for who, name in (
            ("acme_admin", "Weekly news"),
            ("acme_admin", "Offers"),
            ("globex_admin", "Globex digest"),
        ):
            await handle.call(who, "POST", "/lists", json={"name": name, "optIn": "single"})
            await handle.call(
                who,
                "POST",
                f"/lists/{name}/members",
                json={"emails": ["ada@example.com", "grace@example.org"]},
            )
        yield handle


async def link(api: Api, email: str = "ada@example.com", slug: str = "acme") -> str:
    [organization] = await api.rows(organizations, organizations.c.slug == slug)
    secret = await instance_secret(api.database, "unsubscribe")
    return f"/u/{make_token(secret, int(organization['id']), email)}"


async def list_id(api: Api, name: str) -> int:
    [row] = await api.rows(lists, lists.c.name == name)
    return int(row["id"])


async def memberships(api: Api, email: str = "ada@example.com") -> dict[str, str]:
    contact_ids = [row["id"] for row in await api.rows(contacts, contacts.c.email == email)]
    names = {row["id"]: row["name"] for row in await api.rows(lists)}
    return {
        names[row["list_id"]]: row["status"]
        for row in await api.rows(list_members, list_members.c.contact_id.in_(contact_ids))
    }


async def suppressed(api: Api) -> list[tuple[str, str]]:
    return sorted((row["email"], row["reason"]) for row in await api.rows(suppressions))


async def test_the_page_lists_the_organizations_lists_and_changes_nothing(api: Api) -> None:
    path = await link(api)
    audit_before = len(await api.audit())
    for _ in range(2):
        page = await api.client.get(path)
        assert page.status_code == 200
        assert "Your subscriptions" in page.text and "ada@example.com" in page.text
        assert "Weekly news" in page.text and "Offers" in page.text
        assert "Globex digest" not in page.text
        assert page.text.count('name="choice" value="leave"') == 2
        assert f'<form method="post" action="{path}">' in page.text
        assert 'name="List-Unsubscribe" value="One-Click"' in page.text
        assert 'name="choice" value="everything"' in page.text
        assert f'href="{path}?stay=1"' in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
    assert set((await memberships(api)).values()) == {"confirmed"}
    assert await suppressed(api) == [] and len(await api.audit()) == audit_before


async def test_leaving_one_list_keeps_the_others(api: Api) -> None:
    path = await link(api)
    weekly = await list_id(api, "Weekly news")
    answer = await api.client.post(
        path, data={"via": "page", "choice": "leave", "list": str(weekly)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"{path}?left={weekly}"
    assert await memberships(api) == {
        "Weekly news": "unsubscribed",
        "Offers": "confirmed",
        "Globex digest": "confirmed",
    }
    assert await memberships(api, "grace@example.org") == {
        "Weekly news": "confirmed",
        "Offers": "confirmed",
        "Globex digest": "confirmed",
    }
    assert await suppressed(api) == []
    page = await api.client.get(answer.headers["location"])
    assert "You left <strong>Weekly news</strong>" in page.text
    assert page.text.count('name="choice" value="leave"') == 1
    [entry] = [row for row in await api.audit() if row["action"] == "list.leave"]
    assert entry["actor"] == "unsubscribe-link"
    assert entry["detail"] == {"email": "ada@example.com", "lists": ["Weekly news"], "via": "page"}

    again = await api.client.post(
        path, data={"via": "page", "choice": "leave", "list": str(weekly)}
    )
    assert again.headers["location"] == path  # nothing left to leave
    offers = await list_id(api, "Offers")
    claimed = await api.client.get(f"{path}?left={offers}")
    assert "You left" not in claimed.text  # the page only says what happened


async def test_a_list_of_another_organization_cannot_be_left_with_this_link(api: Api) -> None:
    path = await link(api)
    foreign = await list_id(api, "Globex digest")
    for value in (str(foreign), "999999", "x", ""):
        answer = await api.client.post(path, data={"via": "page", "choice": "leave", "list": value})
        assert answer.status_code == 303 and answer.headers["location"] == path
    assert set((await memberships(api)).values()) == {"confirmed"}


async def test_leaving_everything_suppresses_and_leaves_every_list(api: Api) -> None:
    path = await link(api)
    answer = await api.client.post(path, data={**ONE_CLICK, "via": "page", "choice": "everything"})
    assert answer.status_code == 303 and answer.headers["location"] == path
    assert await suppressed(api) == [("ada@example.com", "unsubscribed")]
    assert await memberships(api) == {
        "Weekly news": "unsubscribed",
        "Offers": "unsubscribed",
        "Globex digest": "confirmed",
    }
    by_organization = {
        row["organization_id"]: row["status"]
        for row in await api.rows(contacts, contacts.c.email == "ada@example.com")
    }
    [acme] = await api.rows(organizations, organizations.c.slug == "acme")
    assert by_organization.pop(acme["id"]) == "unsubscribed"
    assert list(by_organization.values()) == ["subscribed"]  # globex's contact
    page = await api.client.get(path)
    assert "You are unsubscribed" in page.text
    actions = [(row["action"], row["detail"].get("via")) for row in await api.audit()]
    assert ("suppression.unsubscribe", "page") in actions and ("list.leave", "page") in actions


async def test_one_click_still_unsubscribes_from_everything(api: Api) -> None:
    path = await link(api)
    for _ in range(2):
        answer = await api.client.post(path, data=ONE_CLICK)
        assert answer.status_code == 200 and "location" not in answer.headers
        assert "You are unsubscribed" in answer.text
    assert await suppressed(api) == [("ada@example.com", "unsubscribed")]
    assert (await memberships(api))["Weekly news"] == "unsubscribed"
    assert (await memberships(api))["Globex digest"] == "confirmed"
    leaves = [row for row in await api.audit() if row["action"] == "list.leave"]
    assert [row["detail"] for row in leaves] == [
        {"email": "ada@example.com", "lists": ["Offers", "Weekly news"], "via": "one-click"}
    ]


async def test_staying_changes_nothing(api: Api) -> None:
    path = await link(api)
    page = await api.client.get(f"{path}?stay=1")
    assert "Nothing changed: you stay subscribed." in page.text
    answer = await api.client.post(path, data={"via": "page", "choice": "stay"})
    assert answer.status_code == 303 and answer.headers["location"] == f"{path}?stay=1"
    assert set((await memberships(api)).values()) == {"confirmed"}
    assert await suppressed(api) == []


async def test_an_address_on_no_list_gets_the_plain_unsubscribe_page(api: Api) -> None:
    path = await link(api, "nobody@example.com")
    page = await api.client.get(path)
    assert "<h1>Unsubscribe?</h1>" in page.text and "Your subscriptions" not in page.text
    assert f'href="{path}?stay=1"' in page.text
