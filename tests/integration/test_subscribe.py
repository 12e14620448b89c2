"""The public subscribe form and double opt-in, end to end through a real SMTP server:
one message with a sealed link, a page that changes nothing, a POST that confirms; and
what the form must never do (mail an address twice a day, tell who is subscribed, let
anyone into a private list, accept a forged or stale link)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from campaignd.delivery.confirmation import Confirmation, make_confirmation_token
from campaignd.delivery.unsubscribe import make_token
from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.schema import contacts, list_members, suppressions
from campaignd.store.secrets import instance_secret
from tests.integration.api_client import Api, open_api
from tests.integration.smtp_server import SmtpServer

PUBLIC_URL = "https://news.acme.example"
LINK = re.compile(re.escape(PUBLIC_URL) + r"(/subscribe/confirm/[A-Za-z0-9_.-]+)")


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
        public_url=PUBLIC_URL,
        trusted_proxies="127.0.0.1",
        subscribe_max_requests=1000,
    ) as handle:
        for body in (
            {"name": "Weekly news", "visibility": "public", "optIn": "double"},
            {"name": "Offers", "visibility": "public", "optIn": "double"},
            {"name": "Quick tips", "visibility": "public", "optIn": "single"},
            {"name": "Staff", "visibility": "private", "optIn": "single"},
        ):
            response = await handle.call("acme_admin", "POST", "/lists", json=body)
            assert response.status_code == 201, response.text
        yield handle


async def subscribe(
    api: Api,
    email: str,
    *lists: str,
    slug: str = "acme",
    client: str = "198.51.100.7",
    **extra: str,
) -> httpx.Response:
    data: dict[str, Any] = {"email": email, "lists": list(lists), **extra}
    return await api.client.post(
        f"/subscribe/{slug}", data=data, headers={"X-Forwarded-For": client}
    )


async def statuses(api: Api) -> dict[tuple[str, str], str]:
    """(address, list) -> member status, over every organization."""
    result = {}
    for who, organization in (("platform", "acme"), ("platform", "globex")):
        listing = await api.call(who, "GET", "/lists", params={"organization": organization})
        for item in listing.json()["lists"]:
            members = await api.call(
                who,
                "GET",
                f"/lists/{item['name']}/members",
                params={"organization": organization},
            )
            for member in members.json()["members"]:
                result[(member["email"], item["name"])] = member["status"]
    return result


def confirmation_path(smtp: SmtpServer, email: str) -> str:
    [message] = smtp.messages_to(email)
    parsed = message.parsed()
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None
    found = LINK.search(text.get_content())
    assert found, text.get_content()
    return found.group(1)


async def test_double_opt_in_end_to_end(api: Api, smtp: SmtpServer) -> None:
    answer = await subscribe(api, "Ada@Example.com", "Weekly news", "Offers")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/subscribe/acme?sent=confirm"
    assert len(smtp.messages) == 1
    [message] = smtp.messages
    assert message.recipients == ["ada@example.com"]
    parsed = message.parsed()
    assert parsed["Subject"] == "Confirm your subscription to Acme"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert "List-Unsubscribe" not in parsed
    assert await statuses(api) == {
        ("ada@example.com", "Weekly news"): "unconfirmed",
        ("ada@example.com", "Offers"): "unconfirmed",
    }
    thanks = await api.client.get(answer.headers["location"])
    assert "check your inbox" in thanks.text

    path = confirmation_path(smtp, "ada@example.com")
    for _ in range(2):
        shown = await api.client.get(path)
        assert shown.status_code == 200
        assert "Confirm your subscription" in shown.text and "ada@example.com" in shown.text
        assert f'<form method="post" action="{path}">' in shown.text
        assert "default-src 'none'" in shown.headers["content-security-policy"]
    assert set((await statuses(api)).values()) == {"unconfirmed"}

    confirmed = await api.client.post(path)
    assert confirmed.status_code == 303 and confirmed.headers["location"] == path
    assert set((await statuses(api)).values()) == {"confirmed"}
    after = await api.client.get(path)
    assert "You are subscribed" in after.text and "Weekly news" in after.text
    assert (await api.client.post(path)).status_code == 303  # harmless when repeated

    actions = [(row["action"], row["actor"]) for row in await api.audit()]
    assert ("list.subscribe", "subscribe-form") in actions
    assert ("list.confirm", "confirmation-link") in actions
    [contact] = await api.rows(contacts)
    assert (contact["status"], contact["source"]) == ("subscribed", "form")


async def test_one_message_a_day_however_often_the_form_is_sent(api: Api, smtp: SmtpServer) -> None:
    first = await subscribe(api, "ada@example.com", "Weekly news")
    for lists in (["Weekly news"], ["Offers"], ["Weekly news", "Offers"], ["Weekly news"]):
        again = await subscribe(api, "ada@example.com", *lists)
        assert (again.status_code, again.headers["location"]) == (
            first.status_code,
            first.headers["location"],
        )
    assert len(smtp.messages_to("ada@example.com")) == 1
    other = await subscribe(api, "grace@example.org", "Weekly news")
    assert other.headers["location"] == first.headers["location"]
    assert len(smtp.messages) == 2

    async with api.database.transaction() as connection:
        await connection.execute(
            list_members.update().values(
                confirmation_sent_at=utcnow() - timedelta(days=1, minutes=1)
            )
        )
    await subscribe(api, "ada@example.com", "Offers")
    assert len(smtp.messages_to("ada@example.com")) == 2
    newest = smtp.messages_to("ada@example.com")[-1].parsed().get_body(preferencelist=("plain",))
    assert newest is not None
    assert "the list “Offers” of Acme" in newest.get_content()  # only what this post asked for


async def test_the_answer_is_the_same_whoever_the_address_is(api: Api, smtp: SmtpServer) -> None:
    await api.call(
        "acme_admin",
        "POST",
        "/lists/Weekly%20news/members",
        json={"emails": ["member@example.com"]},
    )
    await api.call(
        "acme_admin",
        "POST",
        "/suppressions",
        json={"emails": ["bounced@example.com"], "reason": "bounced"},
    )
    answers = []
    for email in ("new@example.com", "member@example.com", "bounced@example.com"):
        form = await subscribe(api, email, "Weekly news")
        as_json = await api.client.post(
            "/subscribe/acme",
            json={"email": email, "lists": ["Weekly news"]},
            headers={"X-Forwarded-For": "198.51.100.8"},
        )
        answers.append(
            (form.status_code, form.headers.get("location"), as_json.status_code, as_json.text)
        )
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][2] == 202 and "check your inbox" in answers[0][3]
    assert [message.recipients for message in smtp.messages] == [["new@example.com"]]


async def test_a_single_opt_in_list_takes_the_address_at_once(api: Api, smtp: SmtpServer) -> None:
    answer = await subscribe(api, "ada@example.com", "Quick tips")
    assert answer.headers["location"] == "/subscribe/acme?sent=subscribed"
    assert await statuses(api) == {("ada@example.com", "Quick tips"): "confirmed"}
    assert smtp.messages == []
    page = await api.client.get(answer.headers["location"])
    assert "You are subscribed" in page.text


async def test_private_and_unknown_lists_cannot_be_joined_and_look_the_same(
    api: Api, smtp: SmtpServer
) -> None:
    private = await subscribe(api, "ada@example.com", "Staff")
    unknown = await subscribe(api, "ada@example.com", "Nope")
    assert private.status_code == unknown.status_code == 422
    assert "No public list &#x27;Staff&#x27; to join here." in private.text
    assert private.text.replace("Staff", "Nope") == unknown.text
    mixed = await subscribe(api, "ada@example.com", "Weekly news", "Staff")
    assert mixed.status_code == 422
    as_json = await api.client.post(
        "/subscribe/acme", json={"email": "ada@example.com", "lists": ["Staff"]}
    )
    assert as_json.status_code == 422
    assert as_json.json() == {"detail": "lists: no public list 'Staff' to join here"}
    assert await api.rows(contacts) == [] and smtp.messages == []


async def test_an_organization_without_public_lists_has_no_form(api: Api) -> None:
    for slug in ("globex", "no-such-organization"):
        page = await api.client.get(f"/subscribe/{slug}")
        assert page.status_code == 404 and "no subscribe form here" in page.text
        posted = await subscribe(api, "ada@example.com", "Weekly news", slug=slug)
        assert posted.status_code == 404
    assert await api.rows(contacts) == []


async def test_the_page_shows_the_public_lists_only(api: Api) -> None:
    page = await api.client.get("/subscribe/acme")
    assert page.status_code == 200
    for name in ("Weekly news", "Offers", "Quick tips"):
        assert f'value="{name}"' in page.text
    assert "Staff" not in page.text
    assert 'name="website"' in page.text and 'class="honeypot"' in page.text
    assert page.headers["x-frame-options"] == "DENY"


async def test_bad_input_is_answered_in_words_and_changes_nothing(
    api: Api, smtp: SmtpServer
) -> None:
    bad = await subscribe(api, "not-an-address", "Weekly news")
    assert bad.status_code == 422 and "is not a valid address" in bad.text
    assert 'value="not-an-address"' in bad.text  # the form keeps what was typed
    empty = await subscribe(api, "ada@example.com")
    assert empty.status_code == 422 and "Choose at least one list." in empty.text
    unknown_field = await api.client.post(
        "/subscribe/acme", json={"email": "ada@example.com", "lists": ["Offers"], "x": 1}
    )
    assert unknown_field.status_code == 422 and "x: unknown field" in unknown_field.text
    text = await api.client.post(
        "/subscribe/acme", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
    assert await api.rows(contacts) == [] and smtp.messages == []


async def test_a_filled_honeypot_changes_nothing_and_answers_the_same(
    api: Api, smtp: SmtpServer
) -> None:
    robot = await subscribe(api, "ada@example.com", "Weekly news", website="http://spam.example")
    assert robot.status_code == 303 and robot.headers["location"] == "/subscribe/acme?sent=confirm"
    assert await api.rows(contacts) == [] and smtp.messages == []


async def test_posts_are_limited_per_client_address(
    database: Database, settings: Settings, smtp: SmtpServer
) -> None:
    async with open_api(
        database,
        settings,
        email_transport=smtp.url,
        trusted_proxies="127.0.0.1",
        subscribe_max_requests=2,
    ) as api:
        await api.call(
            "acme_admin",
            "POST",
            "/lists",
            json={"name": "News", "visibility": "public", "optIn": "single"},
        )
        for number in range(2):
            answer = await subscribe(api, f"a{number}@example.com", "News", client="203.0.113.5")
            assert answer.status_code == 303
        refused = await subscribe(api, "a9@example.com", "News", client="203.0.113.5")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "Too many requests from your address" in refused.text
        other = await subscribe(api, "b@example.com", "News", client="203.0.113.6")
        assert other.status_code == 303
        emails = sorted(row["email"] for row in await api.rows(contacts))
        assert emails == ["a0@example.com", "a1@example.com", "b@example.com"]


async def test_a_message_that_cannot_be_sent_gives_the_day_back(api: Api, smtp: SmtpServer) -> None:
    smtp.fail_next(1, "451 4.3.0 try again later")
    await subscribe(api, "ada@example.com", "Weekly news")
    assert smtp.messages == []
    assert [row["confirmation_sent_at"] for row in await api.rows(list_members)] == [None]
    await subscribe(api, "ada@example.com", "Weekly news")
    assert len(smtp.messages_to("ada@example.com")) == 1


async def test_confirming_brings_back_an_address_that_unsubscribed(
    api: Api, smtp: SmtpServer
) -> None:
    await api.call(
        "acme_admin",
        "POST",
        "/suppressions",
        json={"emails": ["ada@example.com"], "reason": "unsubscribed"},
    )
    await subscribe(api, "ada@example.com", "Weekly news")
    path = confirmation_path(smtp, "ada@example.com")
    assert len(await api.rows(suppressions)) == 1  # not before the confirmation
    await api.client.post(path)
    assert await api.rows(suppressions) == []
    [contact] = await api.rows(contacts)
    assert contact["status"] == "subscribed"
    [entry] = [row for row in await api.audit() if row["action"] == "list.confirm"]
    assert entry["detail"]["resubscribed"] is True


async def test_forged_and_expired_links_are_refused(api: Api, smtp: SmtpServer) -> None:
    await subscribe(api, "ada@example.com", "Weekly news")
    genuine = confirmation_path(smtp, "ada@example.com").rsplit("/", 1)[1]
    secret = await instance_secret(api.database, "unsubscribe")
    [member] = await api.rows(list_members)
    [organization_id] = {row["organization_id"] for row in await api.rows(contacts)}
    stale = make_confirmation_token(
        secret,
        Confirmation(
            organization_id=organization_id,
            email="ada@example.com",
            list_ids=(member["list_id"],),
            issued_at=utcnow() - timedelta(days=8),
        ),
    )
    forged = make_confirmation_token(
        "not-the-secret",
        Confirmation(organization_id, "ada@example.com", (member["list_id"],), utcnow()),
    )
    tampered = forged.split(".")[0] + "." + genuine.split(".")[1]
    unsubscribe_token = make_token(secret, organization_id, "ada@example.com")
    for token in ("nonsense", forged, tampered, unsubscribe_token):
        for method in ("GET", "POST"):
            response = await api.client.request(method, f"/subscribe/confirm/{token}")
            assert response.status_code == 404 and "not valid" in response.text
    for method in ("GET", "POST"):
        response = await api.client.request(method, f"/subscribe/confirm/{stale}")
        assert response.status_code == 410 and "expired" in response.text
        assert 'href="/subscribe/acme"' in response.text
    assert set((await statuses(api)).values()) == {"unconfirmed"}
    # the confirmation token is no unsubscribe token either
    assert (await api.client.post(f"/u/{genuine}")).status_code == 404
    assert await api.rows(suppressions) == []


async def test_a_member_who_left_is_not_confirmed_by_an_old_link(
    api: Api, smtp: SmtpServer
) -> None:
    await subscribe(api, "ada@example.com", "Weekly news")
    path = confirmation_path(smtp, "ada@example.com")
    await api.call(
        "acme_admin",
        "DELETE",
        "/lists/Weekly%20news/members",
        json={"emails": ["ada@example.com"]},
    )
    await api.client.post(path)
    assert await statuses(api) == {}
    page = await api.client.get(path)
    assert "Nothing to confirm" in page.text
