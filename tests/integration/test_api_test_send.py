"""Test sends (``POST /campaigns/{id}/test``) through a real SMTP server: the message as the
chosen recipient gets it, ``[Test]`` subject, DKIM-signed when the domain has a key, and
nothing else changes (no ledger entry, no count, no status, nobody suppressed)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import dkim
import httpx
import pytest
from sqlalchemy import func, select

from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.api.app import create_app
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.schema import (
    audit_log,
    campaigns,
    cooldown_ledger,
    deliveries,
    runs,
    suppressions,
)
from campaignd.wakeups import LocalWakeups
from tests.integration.api_client import Api, open_api
from tests.integration.smtp_server import NO_SUCH_USER, SmtpServer
from tests.integration.targeting_support import add_contacts, add_list
from tests.integration.test_delivery_dkim import Published, add_key, verified

PUBLIC_URL = "https://news.acme.example"
RECIPIENTS = [
    {"email": "ada@example.org", "vars": {"name": "Ada"}},
    {"email": "grace@example.org", "vars": {"name": "Grace"}},
]
SYSTEM = Principal(actor="test", role=Role.PLATFORM_ADMIN)


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
        from_address="News <news@acme.example>",
        test_send_max_requests=3,
    ) as handle:
        yield handle


async def campaign(api: Api, state: str = "draft", **fields: Any) -> int:
    fields.setdefault("subject", "Hello {{ name }}")
    fields.setdefault("htmlBody", "<p>Dear {{ name }}, see you.</p>")
    fields.setdefault("textBody", "Dear {{ name }}, see you.")
    return await api.campaign_in(state, recipients=RECIPIENTS, **fields)


async def state_of(api: Api) -> dict[str, Any]:
    """Everything a test send must leave as it was."""
    async with api.database.connection() as connection:
        counts = {
            table.name: int(
                (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            )
            for table in (cooldown_ledger, runs, suppressions)
        }
        rows = (
            await connection.execute(
                select(deliveries.c.email, deliveries.c.status, deliveries.c.attempts)
            )
        ).all()
    shown = [
        {key: row[key] for key in ("id", "status", "started_at", "finished_at")}
        for row in await api.rows(campaigns)
    ]
    return {"counts": counts, "deliveries": sorted(map(tuple, rows)), "campaigns": shown}


async def test_send(api: Api, campaign_id: int, who: str = "acme_admin", **body: Any) -> Any:
    return await api.call(who, "POST", f"/campaigns/{campaign_id}/test", json=body)


test_send.__test__ = False  # type: ignore[attr-defined]


@pytest.mark.parametrize("state", ["draft", "scheduled"])
async def test_the_recipient_s_message_goes_out_marked_and_changes_nothing(
    api: Api, smtp: SmtpServer, state: str
) -> None:
    campaign_id = await campaign(api, state)
    before = await state_of(api)
    answer = await test_send(
        api, campaign_id, to=["me@example.net", "Boss@Example.net"], recipient="grace@example.org"
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"sent": 2, "recipient": "grace@example.org", "refused": []}
    assert sorted(message.recipients[0] for message in smtp.messages) == [
        "boss@example.net",
        "me@example.net",
    ]
    parsed = smtp.messages_to("me@example.net")[0].parsed()
    assert parsed["Subject"] == "[Test] Hello Grace"
    assert parsed["To"] == "me@example.net"
    assert parsed["X-Campaign-Id"] == str(campaign_id)
    assert parsed["List-Unsubscribe"] == f"<{PUBLIC_URL}/u/preview>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ".test-" in parsed["Message-ID"]
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None and "Dear Grace, see you." in text.get_content()
    assert html is not None and "Dear Grace, see you." in html.get_content()
    assert f"{PUBLIC_URL}/u/preview" in text.get_content()
    ids = {message.parsed()["Message-ID"] for message in smtp.messages}
    assert len(ids) == 2
    assert await state_of(api) == before
    campaign_view = (await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}")).json()
    assert campaign_view["status"] == state and campaign_view["counts"].get("sent", 0) == 0
    [entry] = [row for row in await api.audit() if row["action"] == "campaign.test"]
    assert entry["target"] == str(campaign_id) and entry["actor"] == "token:acme_admin"
    assert entry["detail"]["to"] == ["me@example.net", "boss@example.net"]


async def test_without_a_recipient_the_first_one_s_variables_are_used(
    api: Api, smtp: SmtpServer
) -> None:
    campaign_id = await campaign(api)
    answer = await test_send(api, campaign_id, to=["me@example.net"])
    assert answer.status_code == 202 and answer.json()["recipient"] == "ada@example.org"
    assert smtp.messages[0].parsed()["Subject"] == "[Test] Hello Ada"


async def test_a_campaign_without_recipients_renders_for_the_test_address(
    api: Api, smtp: SmtpServer
) -> None:
    created = await api.create(subject="For {{ email }}", textBody="Hi {{ email }}")
    answer = await test_send(api, int(created["id"]), to=["me@example.net"])
    assert answer.status_code == 202 and answer.json()["recipient"] is None
    assert smtp.messages[0].parsed()["Subject"] == "[Test] For me@example.net"


async def test_a_campaign_to_a_list_is_tested_as_one_of_its_contacts(
    api: Api, smtp: SmtpServer
) -> None:
    async with api.database.connection() as connection:
        acme = await organization_by_slug(connection, "acme")
    assert acme is not None
    await add_contacts(
        api.database,
        int(acme["id"]),
        [
            ("zoe@example.org", {"name": "Zoe"}),
            ("bea@example.org", {"name": "Bea"}),
            ("cyd@example.org", {"name": "Cyd"}),
        ],
    )
    members = {
        "zoe@example.org": "confirmed",
        "bea@example.org": "confirmed",
        "cyd@example.org": "unconfirmed",
    }
    await add_list(api.database, int(acme["id"]), "Readers", members)
    created = await api.create(subject="Hello {{ name }}", textBody="Hi", lists=["Readers"])
    campaign_id = int(created["id"])

    first = await test_send(api, campaign_id, to=["me@example.net"])
    chosen = await test_send(api, campaign_id, to=["me@example.net"], recipient="Zoe@example.org")
    unconfirmed = await test_send(
        api, campaign_id, to=["me@example.net"], recipient="cyd@example.org"
    )

    assert first.status_code == 202 and first.json()["recipient"] == "bea@example.org"
    assert chosen.status_code == 202 and chosen.json()["recipient"] == "zoe@example.org"
    subjects = [message.parsed()["Subject"] for message in smtp.messages]
    assert subjects == ["[Test] Hello Bea", "[Test] Hello Zoe"]
    assert unconfirmed.status_code == 422
    assert unconfirmed.json()["detail"] == (
        f"recipient: cyd@example.org is not one of campaign {campaign_id}'s recipients"
    )


async def test_sent_and_cancelled_campaigns_can_be_tested_too(api: Api, smtp: SmtpServer) -> None:
    campaign_id = await campaign(api, "cancelled")
    before = await state_of(api)
    answer = await test_send(api, campaign_id, to=["me@example.net"])
    assert answer.status_code == 202 and answer.json()["sent"] == 1
    assert await state_of(api) == before


async def test_a_refusing_server_suppresses_nobody(api: Api, smtp: SmtpServer) -> None:
    campaign_id = await campaign(api)
    smtp.fail_next(1, NO_SUCH_USER, stage="rcpt")
    before = await state_of(api)
    answer = await test_send(api, campaign_id, to=["gone@example.net", "me@example.net"])
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["sent"] == 1
    assert body["refused"][0]["email"] == "gone@example.net"
    assert "550" in body["refused"][0]["reason"]
    assert await state_of(api) == before


async def test_bad_input_is_refused_naming_it_and_sends_nothing(api: Api, smtp: SmtpServer) -> None:
    campaign_id = await campaign(api)
    eleven = [f"person{number}@example.net" for number in range(11)]
    cases = [
        ({"to": eleven}, 422, "at most 10 addresses"),
        ({"to": []}, 422, "to: give 1 to 10"),
        ({"to": ["me@example.net", "not an address"]}, 422, "to[1]: 'not an address'"),
        ({"to": ["me@example.net"], "recipient": "who@example.org"}, 422, "who@example.org"),
        ({"to": ["me@example.net"], "recipient": "nope"}, 422, "recipient: 'nope'"),
        ({"to": ["me@example.net"], "cc": ["x@example.net"]}, 422, "cc: unknown field"),
        ({}, 422, "to: is required"),
    ]
    before = await state_of(api)
    audit_before = len(await api.audit())
    for body, status, words in cases:
        answer = await test_send(api, campaign_id, **body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["detail"], (body, answer.text)
    assert smtp.messages == []
    assert await state_of(api) == before and len(await api.audit()) == audit_before


async def test_another_organization_s_campaign_is_not_found_and_viewers_cannot(
    api: Api, smtp: SmtpServer
) -> None:
    campaign_id = await campaign(api)
    answer = await test_send(api, campaign_id, "globex_admin", to=["me@example.net"])
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"campaign {campaign_id} not found"
    answer = await test_send(api, campaign_id, "acme_viewer", to=["me@example.net"])
    assert answer.status_code == 403
    assert (await test_send(api, campaign_id, None, to=["me@example.net"])).status_code == 401
    assert smtp.messages == []


async def test_test_sends_are_limited_per_organization(api: Api, smtp: SmtpServer) -> None:
    campaign_id = await campaign(api)
    for _ in range(3):
        answer = await test_send(api, campaign_id, to=["me@example.net"])
        assert answer.status_code == 202
    answer = await test_send(api, campaign_id, to=["me@example.net"])
    assert answer.status_code == 429
    assert "too many test sends" in answer.json()["detail"]
    assert 1 <= int(answer.headers["Retry-After"]) <= 3600
    assert len(smtp.messages) == 3
    globex = await api.create("globex_admin", recipients=["x@example.org"])
    answer = await test_send(api, int(globex["id"]), "globex_admin", to=["me@example.net"])
    assert answer.status_code == 202  # another organization has its own count


async def test_the_test_is_signed_when_the_domain_has_a_key(api: Api, smtp: SmtpServer) -> None:
    published = Published()
    await add_key(api.services, published, "cmp1", "rsa")
    campaign_id = await campaign(api)
    answer = await test_send(api, campaign_id, to=["me@example.net"])
    assert answer.status_code == 202, answer.text
    data = smtp.messages[0].data
    assert verified(data, published) == [True]
    signed = dkim.DKIM(data)
    assert signed.verify(dnsfunc=published)
    async with api.database.connection() as connection:
        entries = (
            await connection.execute(select(audit_log).where(audit_log.c.action == "campaign.test"))
        ).all()
    assert len(entries) == 1


async def test_with_redis_the_limit_is_shared_by_every_instance(
    database: Database, settings: Settings, smtp: SmtpServer, redis_url: str
) -> None:
    shared = settings.model_copy(
        update={
            "email_transport": smtp.url,
            "redis_url": redis_url,
            "redis_prefix": f"campaignd-test-{secrets.token_hex(6)}",
            "test_send_max_requests": 2,
        }
    )
    async with open_api(database, shared) as first:
        campaign_id = await campaign(first)
        other = create_app(Services(database, shared, LocalWakeups()))
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://other.test") as client:
            second = Api(client=client, services=first.services, tokens=first.tokens)
            for api in (first, second):
                answer = await test_send(api, campaign_id, to=["me@example.net"])
                assert answer.status_code == 202, answer.text
            answer = await test_send(second, campaign_id, to=["me@example.net"])
            assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
        for app in (first.client._transport.app, other):  # type: ignore[attr-defined]
            throttle = getattr(app.state, "test_send_throttle", None)
            if throttle is not None:
                await throttle.close()
    assert len(smtp.messages) == 2
