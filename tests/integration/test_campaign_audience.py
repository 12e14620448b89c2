"""Campaigns that target lists (and segments): who is mailed, once, at a real SMTP server;
the cooldown and the suppression list over the audience; the audience fixed at start; the
read-only preview."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from campaignd.settings import Settings
from campaignd.store import campaign_audience
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.schema import cooldown_ledger, deliveries, runs, suppressions
from tests.integration.api_client import Api, open_api
from tests.integration.delivery_support import deliveries_of, latest_run, ledger, worker
from tests.integration.scheduling_helpers import scheduler_for, seed_ledger
from tests.integration.smtp_server import SmtpServer
from tests.integration.targeting_support import (
    add_contacts,
    add_list,
    add_members,
    add_segment,
    delivery_count,
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "email_transport": smtp.url,
            "smtp_connections": 2,
            "public_url": "https://mail.example.org",
            "from_address": "News <news@acme.example>",
        }
    )


@pytest.fixture
async def api(database: Database, smtp_settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, smtp_settings) as handle:
        yield handle


async def organization_id(api: Api, slug: str = "acme") -> int:
    async with api.database.connection() as connection:
        row = await organization_by_slug(connection, slug)
    assert row is not None
    return int(row["id"])


async def acme_audience(api: Api) -> int:
    """acme's contacts and two overlapping lists, with every way of not being mailed; globex
    has a list of the same name."""
    acme = await organization_id(api)
    await add_contacts(
        api.database,
        acme,
        [
            ("ada@example.org", {"first_name": "Ada"}),
            ("bob@example.org", {"first_name": "Bob"}),
            ("cy@example.org", {"first_name": "Cy"}),
            ("dee@example.org", {"first_name": "Dee"}),
            ("eve@example.org", {"first_name": "Eve"}, "unsubscribed"),
            ("fay@example.org", {"first_name": "Fay"}),
            ("gus@example.org", {"first_name": "Gus"}),
            ("hal@example.org", {"first_name": "Hal"}),
            ("ivy@example.org", {"first_name": "Ivy"}, "bounced"),
        ],
    )
    await add_list(
        api.database,
        acme,
        "Newsletter",
        {
            "ada@example.org": "confirmed",
            "bob@example.org": "confirmed",
            "cy@example.org": "confirmed",
            "eve@example.org": "confirmed",  # contact unsubscribed
            "fay@example.org": "confirmed",  # on the suppression list
            "gus@example.org": "unconfirmed",
            "ivy@example.org": "confirmed",  # contact bounced
        },
    )
    await add_list(
        api.database,
        acme,
        "Customers",
        {
            "bob@example.org": "confirmed",
            "cy@example.org": "confirmed",
            "dee@example.org": "confirmed",
            "hal@example.org": "unsubscribed",
        },
    )
    async with api.database.transaction() as connection:
        await connection.execute(
            insert(suppressions).values(
                organization_id=acme, email="fay@example.org", reason="manual", created_at=utcnow()
            )
        )
    globex = await organization_id(api, "globex")
    await add_contacts(api.database, globex, ["gil@example.org", "ada@example.org"])
    await add_list(
        api.database,
        globex,
        "Newsletter",
        {"gil@example.org": "confirmed", "ada@example.org": "confirmed"},
    )
    return acme


async def send_everything(api: Api) -> None:
    """The scheduler and a worker in burst mode until the campaign is done."""
    settings = api.services.settings
    await scheduler_for(api.database, settings).run_burst()
    await worker(api.database, settings).run_burst()
    await scheduler_for(api.database, settings).run_burst()


async def test_lists_with_overlap_and_recipients_mail_each_person_once(
    api: Api, smtp: SmtpServer
) -> None:
    await acme_audience(api)
    created = await api.create(
        subject="Hello {{ first_name }}",
        textBody="Hi {{ first_name }}",
        lists=["Newsletter", "Customers"],
        recipients=[
            {"email": "cy@example.org", "vars": {"first_name": "Cyrus"}},
            "zed@example.org",
            "fay@example.org",
        ],
    )
    assert created["lists"] == ["Customers", "Newsletter"]
    campaign_id = int(created["id"])
    executed = await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")
    assert executed.status_code == 202, executed.text

    await send_everything(api)

    mailed = Counter(address for message in smtp.messages for address in message.recipients)
    expected = ["ada@example.org", "bob@example.org", "cy@example.org", "dee@example.org"]
    assert mailed == Counter([*expected, "zed@example.org"])
    subjects = {message.recipients[0]: message.parsed()["Subject"] for message in smtp.messages}
    assert subjects["ada@example.org"] == "Hello Ada"
    assert subjects["cy@example.org"] == "Hello Cyrus"  # the explicit recipient's variables
    rows = await deliveries_of(api.database, campaign_id)
    assert rows["fay@example.org"]["status"] == "skipped"  # explicit, and suppressed
    assert rows["fay@example.org"]["code"] == "suppressed"
    assert set(rows) == {*expected, "zed@example.org", "fay@example.org"}
    run = await latest_run(api.database, campaign_id)
    assert (run["status"], run["recipient_count"], run["sent"], run["skipped"]) == (
        "sent",
        6,
        5,
        1,
    )
    shown = (await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}")).json()
    assert shown["status"] == "sent" and shown["recipientCount"] == 6
    assert shown["counts"] == {"sent": 5, "skipped": 1}


async def test_cooldown_holds_audience_members_as_recipients(api: Api, smtp: SmtpServer) -> None:
    acme = await organization_id(api)
    await add_contacts(api.database, acme, ["ada@example.org", "bob@example.org"])
    await add_list(
        api.database,
        acme,
        "Newsletter",
        {"ada@example.org": "confirmed", "bob@example.org": "confirmed"},
    )
    await seed_ledger(
        api.database,
        ["bob@example.org"],
        campaign_id=None,
        campaign_name="Autumn",
        contacted_at=utcnow() - timedelta(days=15),
    )
    campaign_id = int((await api.create(lists=["Newsletter"]))["id"])
    await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")

    await send_everything(api)

    assert [message.recipients for message in smtp.messages] == [["ada@example.org"]]
    bob = (await deliveries_of(api.database, campaign_id))["bob@example.org"]
    assert (bob["status"], bob["code"]) == ("skipped", "cooldown")
    assert bob["reason"].startswith("received another campaign 15 days ago")
    held = await ledger(api.database)
    assert held["ada@example.org"] == campaign_id and held["bob@example.org"] is None

    second = int((await api.create(name="Again", lists=["Newsletter"]))["id"])
    await api.call("acme_admin", "POST", f"/campaigns/{second}/execute")
    await send_everything(api)

    assert len(smtp.messages) == 1  # Ada is in the first campaign's cooldown now
    ada = (await deliveries_of(api.database, second))["ada@example.org"]
    assert (ada["status"], ada["code"]) == ("skipped", "cooldown")
    assert ada["reason"].startswith("received 'Spring news' today")


async def test_the_audience_is_fixed_when_the_campaign_starts(api: Api, smtp: SmtpServer) -> None:
    acme = await organization_id(api)
    await add_contacts(api.database, acme, ["ada@example.org"])
    list_id = await add_list(api.database, acme, "Newsletter", {"ada@example.org": "confirmed"})
    campaign_id = int((await api.create(lists=["Newsletter"]))["id"])
    await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")
    await scheduler_for(api.database, api.services.settings).run_burst()  # starts: fans out

    await add_contacts(api.database, acme, ["late@example.org"])
    await add_members(api.database, acme, list_id, {"late@example.org": "confirmed"})
    await worker(api.database, api.services.settings).run_burst()
    await scheduler_for(api.database, api.services.settings).run_burst()

    assert [message.recipients for message in smtp.messages] == [["ada@example.org"]]
    assert await delivery_count(api.database, campaign_id) == 1
    preview = await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/preview")
    assert preview.json()["totalRecipients"] == 1


async def test_preview_counts_the_audience_and_writes_nothing(api: Api) -> None:
    await acme_audience(api)
    await seed_ledger(
        api.database,
        ["dee@example.org"],
        campaign_id=None,
        campaign_name="Autumn",
        contacted_at=utcnow() - timedelta(days=15),
    )
    campaign_id = int(
        (
            await api.create(
                lists=["Newsletter", "Customers"],
                recipients=["cy@example.org", "zed@example.org", "fay@example.org"],
            )
        )["id"]
    )
    before = await api.snapshot()
    held_before = await ledger(api.database)

    answer = await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/preview")

    assert answer.status_code == 200, answer.text
    preview = answer.json()
    # cy, zed, fay (recipients) + ada, bob, dee (lists; cy once; eve, gus, hal, ivy not in)
    assert (preview["totalRecipients"], preview["eligible"], preview["ineligible"]) == (6, 4, 2)
    assert [(reason["email"], reason["code"]) for reason in preview["reasons"]] == [
        ("fay@example.org", "suppressed"),
        ("dee@example.org", "cooldown"),
    ]
    assert await api.snapshot() == before
    assert await ledger(api.database) == held_before
    assert await delivery_count(api.database, campaign_id) == 3


async def test_preview_counts_audience_contacts_lacking_a_variable(
    api: Api, smtp: SmtpServer
) -> None:
    """A contact of a list lacking an attribute the template prints is counted before the
    start as after it; an explicit recipient keeps its own variables."""
    acme = await organization_id(api)
    await add_contacts(
        api.database,
        acme,
        [
            ("ada@example.org", {"first_name": "Ada", "plan": "pro"}),
            ("bob@example.org", {"plan": "free"}),
            ("cy@example.org", {"first_name": " "}),
            ("dee@example.org", {"first_name": "Dee"}),
        ],
    )
    await add_list(
        api.database,
        acme,
        "Everyone",
        dict.fromkeys(
            ["ada@example.org", "bob@example.org", "cy@example.org", "dee@example.org"], "confirmed"
        ),
    )
    campaign_id = int(
        (
            await api.create(
                subject="Hello {{ first_name }}",
                textBody="Your plan: {{ plan }}",
                lists=["Everyone"],
                recipients=[{"email": "dee@example.org", "vars": {"plan": "team"}}],
            )
        )["id"]
    )
    path = f"/campaigns/{campaign_id}/preview"

    before = (await api.call("acme_viewer", "POST", path)).json()["missingVariables"]

    lacking = {item["name"]: (item["recipients"], item["sample"]) for item in before}
    # bob has no first_name, cy a blank one, dee (a recipient) only the vars given
    assert lacking == {
        "first_name": (3, ["bob@example.org", "cy@example.org", "dee@example.org"]),
        "plan": (1, ["cy@example.org"]),
    }
    await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")
    await send_everything(api)
    after = (await api.call("acme_viewer", "POST", path)).json()["missingVariables"]
    assert {item["name"]: (item["recipients"], item["sample"]) for item in after} == lacking
    subjects = sorted(str(message.parsed()["Subject"]) for message in smtp.messages)
    assert subjects == ["Hello", "Hello", "Hello", "Hello Ada"]


async def test_preview_of_a_large_list_counts_every_member(api: Api) -> None:
    acme = await organization_id(api)
    people = [f"person{number}@example.org" for number in range(1500)]
    await add_contacts(api.database, acme, people)
    await add_list(api.database, acme, "Everyone", dict.fromkeys(people, "confirmed"))
    await seed_ledger(
        api.database,
        people[:1200],
        campaign_id=None,
        campaign_name="Autumn",
        contacted_at=utcnow() - timedelta(days=3),
    )
    campaign_id = int((await api.create(lists=["Everyone"]))["id"])

    preview = (await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/preview")).json()

    assert (preview["totalRecipients"], preview["eligible"], preview["ineligible"]) == (
        1500,
        300,
        1200,
    )
    assert len(preview["reasons"]) == 1000  # the sample is limited, the count is not


async def test_segments_join_the_audience_once_beside_lists(api: Api, smtp: SmtpServer) -> None:
    """A segment (a filter on an attribute) joins the lists: any way in is enough, and
    each contact comes once."""
    acme = await organization_id(api)
    await add_contacts(
        api.database,
        acme,
        [
            ("ada@example.org", {"city": "Osaka"}),
            ("bob@example.org", {"city": "Lisbon"}),
            ("cy@example.org", {"city": "Osaka"}),
            ("dee@example.org", {"city": "Osaka"}, "unsubscribed"),
            ("eve@example.org", {"city": "Lisbon"}),
        ],
    )
    await add_list(
        api.database,
        acme,
        "Newsletter",
        {"ada@example.org": "confirmed", "eve@example.org": "confirmed"},
    )
    campaign_id = int((await api.create(lists=["Newsletter"]))["id"])
    await add_segment(
        api.database,
        acme,
        "In Osaka",
        campaign_id=campaign_id,
        filter={"attribute": "city", "op": "eq", "value": "Osaka"},
    )
    shown = (await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}")).json()
    assert shown["segments"] == ["In Osaka"] and shown["lists"] == ["Newsletter"]
    preview = (await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/preview")).json()
    assert preview["totalRecipients"] == 3

    await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")
    await send_everything(api)

    assert sorted(message.recipients[0] for message in smtp.messages) == [
        "ada@example.org",
        "cy@example.org",
        "eve@example.org",
    ]


async def test_a_list_of_another_organization_is_never_read(api: Api, smtp: SmtpServer) -> None:
    """globex's list of the same name, and its contacts, stay out of acme's campaign."""
    await acme_audience(api)
    campaign_id = int((await api.create(lists=["Newsletter"]))["id"])
    await api.call("acme_admin", "POST", f"/campaigns/{campaign_id}/execute")

    await send_everything(api)

    mailed = sorted(address for message in smtp.messages for address in message.recipients)
    assert mailed == ["ada@example.org", "bob@example.org", "cy@example.org"]
    async with api.database.connection() as connection:
        total = (
            await connection.execute(select(func.count()).select_from(deliveries))
        ).scalar_one()
        [run] = (await connection.execute(select(runs))).mappings().all()
        entries = (await connection.execute(select(cooldown_ledger.c.email))).scalars().all()
    assert total == 3 and run["recipient_count"] == 3
    assert sorted(entries) == mailed


async def test_add_audience_adds_each_contact_once_and_says_how_many(api: Api) -> None:
    acme = await organization_id(api)
    await add_contacts(api.database, acme, ["ada@example.org", "bob@example.org"])
    await add_list(
        api.database,
        acme,
        "Newsletter",
        {"ada@example.org": "confirmed", "bob@example.org": "confirmed"},
    )
    await add_list(api.database, acme, "Customers", {"bob@example.org": "confirmed"})
    alone = int((await api.create(lists=["Newsletter", "Customers"]))["id"])
    beside = int(
        (await api.create(lists=["Newsletter", "Customers"], recipients=["bob@example.org"]))["id"]
    )

    async with api.database.transaction() as connection:
        assert await campaign_audience.add_audience(connection, alone, acme, now=utcnow()) == 2
        assert await campaign_audience.add_audience(connection, beside, acme, now=utcnow()) == 1

    assert sorted(await deliveries_of(api.database, alone)) == [
        "ada@example.org",
        "bob@example.org",
    ]
    assert sorted(await deliveries_of(api.database, beside)) == [
        "ada@example.org",
        "bob@example.org",
    ]
