"""Fan-out and preview on real databases: cooldown across campaigns, scopes, reasons, races."""

from __future__ import annotations

import random
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from campaignd.domain.lifecycle import CampaignStatus
from campaignd.settings import Settings
from campaignd.store import campaigns
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out, preview
from campaignd.store.schema import cooldown_ledger, deliveries, suppressions
from campaignd.store.waiting import shown_status
from tests.integration.scheduling_helpers import (
    campaign,
    delivery_states,
    execute_now,
    make_campaign,
    make_organization,
    runs_of,
    scheduler_for,
    seed_ledger,
    soon,
)
from tests.support import WAIT_FOR_GO, assert_overlapped, race, racing_window

REPOSITORY = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 10, 29, 12, 0, tzinfo=UTC)
FIFTEEN_DAYS_AGO = NOW - timedelta(days=15)  # + 90 days = 2027-01-12
GLOBAL = CooldownRules(days=90, scope="global")


async def winter_event(database: Database, organization: int, emails: list[str]) -> int:
    """A campaign that was sent 15 days before NOW to ``emails``."""
    campaign_id = await make_campaign(database, organization, name="Winter Event", emails=emails)
    async with database.transaction() as connection:
        await connection.execute(
            campaigns.campaigns.update()
            .where(campaigns.campaigns.c.id == campaign_id)
            .values(status=CampaignStatus.SENT.value)
        )
    await seed_ledger(
        database,
        emails,
        campaign_id=campaign_id,
        campaign_name="Winter Event",
        contacted_at=FIFTEEN_DAYS_AGO,
    )
    return campaign_id


async def fan_out_at(
    database: Database, campaign_id: int, *, rules: CooldownRules = GLOBAL, now: datetime = NOW
) -> dict[str, int] | None:
    await execute_now(database, campaign_id)
    async with database.transaction() as connection:
        return await fan_out(connection, campaign_id, rules=rules, now=now)


async def statuses(database: Database, campaign_id: int) -> dict[str, str]:
    return {
        email: row["status"]
        for email, row in (await delivery_states(database, campaign_id)).items()
    }


async def test_cooldown_holds_across_campaigns(database: Database, settings: Settings) -> None:
    organization = await make_organization(database)
    first = await make_campaign(
        database, organization, name="Autumn", emails=["a@x.org", "b@x.org"]
    )
    second = await make_campaign(
        database, organization, name="Winter", emails=["b@x.org", "c@x.org"]
    )
    scheduler = scheduler_for(database, settings)
    await execute_now(database, first)
    await scheduler.tick()

    await execute_now(database, second)
    await scheduler.tick()

    assert await statuses(database, first) == {"a@x.org": "queued", "b@x.org": "queued"}
    held = await delivery_states(database, second)
    assert held["c@x.org"]["status"] == "queued"
    assert held["b@x.org"]["status"] == "skipped" and held["b@x.org"]["code"] == "cooldown"
    assert held["b@x.org"]["reason"].startswith("reserved for 'Autumn' today; eligible again on ")
    [run] = await runs_of(database, second)
    assert run["queued"] == 1 and run["skipped"] == 1 and run["recipient_count"] == 2


async def test_fan_out_reason_names_the_campaign_and_the_date(database: Database) -> None:
    organization = await make_organization(database)
    await winter_event(database, organization, ["a@x.org"])
    spring = await make_campaign(database, organization, emails=["a@x.org", "b@x.org"])

    counts = await fan_out_at(database, spring)

    assert counts is not None and counts["queued"] == 1 and counts["skipped"] == 1
    row = (await delivery_states(database, spring))["a@x.org"]
    assert row["code"] == "cooldown"
    assert row["reason"] == "received 'Winter Event' 15 days ago; eligible again on 2027-01-12"


async def test_address_is_eligible_again_after_the_cooldown(database: Database) -> None:
    organization = await make_organization(database)
    await seed_ledger(
        database,
        ["old@x.org"],
        campaign_id=None,
        campaign_name="Last year",
        contacted_at=NOW - timedelta(days=91),
    )
    spring = await make_campaign(database, organization, emails=["old@x.org"])

    await fan_out_at(database, spring)

    assert await statuses(database, spring) == {"old@x.org": "queued"}
    async with database.connection() as connection:
        entry = (await connection.execute(select(cooldown_ledger))).mappings().one()
    assert entry["campaign_id"] == spring and entry["contacted_at"] == NOW
    assert entry["previous_campaign_name"] == "Last year"


async def test_a_recent_entry_of_a_deleted_campaign_still_holds_the_address(
    database: Database,
) -> None:
    organization = await make_organization(database)
    await seed_ledger(
        database,
        ["kept@x.org"],
        campaign_id=None,
        campaign_name="Deleted sale",
        contacted_at=NOW - timedelta(days=10),
    )
    spring = await make_campaign(database, organization, emails=["kept@x.org", "new@x.org"])

    counts = await fan_out_at(database, spring)

    assert counts is not None and counts["queued"] == 1 and counts["skipped"] == 1
    row = (await delivery_states(database, spring))["kept@x.org"]
    assert row["status"] == "skipped" and row["code"] == "cooldown"
    # whose campaign it was is not known any more: it could be another organization's
    assert row["reason"] == "received another campaign 10 days ago; eligible again on 2027-01-17"


async def test_each_holding_campaign_gives_its_own_reason(database: Database) -> None:
    organization = await make_organization(database)
    for name, email, days in (("Autumn", "a@x.org", 20), ("Winter", "w@x.org", 5)):
        holder = await make_campaign(database, organization, name=name, emails=[email])
        async with database.transaction() as connection:
            await connection.execute(
                campaigns.campaigns.update()
                .where(campaigns.campaigns.c.id == holder)
                .values(status=CampaignStatus.SENT.value)
            )
        await seed_ledger(
            database,
            [email],
            campaign_id=holder,
            campaign_name=name,
            contacted_at=NOW - timedelta(days=days),
        )
    spring = await make_campaign(database, organization, emails=["a@x.org", "w@x.org"])

    await fan_out_at(database, spring)

    rows = await delivery_states(database, spring)
    assert rows["a@x.org"]["reason"].startswith("received 'Autumn' 20 days ago")
    assert rows["w@x.org"]["reason"].startswith("received 'Winter' 5 days ago")


async def test_global_scope_spans_organizations(database: Database) -> None:
    acme, globex = (
        await make_organization(database, "acme"),
        await make_organization(database, "globex"),
    )
    first = await make_campaign(database, acme, name="Acme news", emails=["a@x.org"])
    second = await make_campaign(database, globex, name="Globex news", emails=["a@x.org"])

    await fan_out_at(database, first)
    await fan_out_at(database, second)

    assert await statuses(database, second) == {"a@x.org": "skipped"}


async def test_another_organizations_campaign_is_never_named(database: Database) -> None:
    """The global cooldown holds across organizations, but a reason (preview or fan-out)
    names only the organization's own campaigns: never another's name or id."""
    acme, globex = (
        await make_organization(database, "acme"),
        await make_organization(database, "globex"),
    )
    secret = "Globex confidential: merger with Initech"
    sent = await winter_event(database, globex, ["sent@x.org"])
    async with database.transaction() as connection:
        await connection.execute(
            campaigns.campaigns.update().where(campaigns.campaigns.c.id == sent).values(name=secret)
        )
        await connection.execute(
            cooldown_ledger.update()
            .where(cooldown_ledger.c.campaign_id == sent)
            .values(campaign_name=secret)
        )
    in_flight = await make_campaign(database, globex, name=secret, emails=["busy@x.org"])
    await fan_out_at(database, in_flight, now=NOW - timedelta(hours=1))
    await winter_event(database, acme, ["own@x.org"])
    spring = await make_campaign(
        database, acme, emails=["sent@x.org", "busy@x.org", "own@x.org", "free@x.org"]
    )

    async with database.connection() as connection:
        _, ineligible, reasons = await preview(
            connection, await campaign(database, spring), rules=GLOBAL, now=NOW
        )
    await fan_out_at(database, spring)

    expected = {
        "sent@x.org": "received another campaign 15 days ago; eligible again on 2027-01-12",
        "busy@x.org": "reserved for another campaign today; eligible again on 2027-01-27",
        "own@x.org": "received 'Winter Event' 15 days ago; eligible again on 2027-01-12",
    }
    assert ineligible == 3
    assert {reason["email"]: reason["reason"] for reason in reasons} == expected
    states = await delivery_states(database, spring)
    assert {
        email: row["reason"] for email, row in states.items() if row["status"] == "skipped"
    } == expected
    assert states["free@x.org"]["status"] == "queued"
    assert not any("Globex" in reason for reason in expected.values())


async def test_organization_scope_keeps_organizations_apart(database: Database) -> None:
    rules = CooldownRules(days=90, scope="organization")
    acme, globex = (
        await make_organization(database, "acme"),
        await make_organization(database, "globex"),
    )
    first = await make_campaign(database, acme, name="Acme news", emails=["a@x.org"])
    second = await make_campaign(database, globex, name="Globex news", emails=["a@x.org"])
    third = await make_campaign(database, acme, name="Acme again", emails=["a@x.org"])

    await fan_out_at(database, first, rules=rules)
    await fan_out_at(database, second, rules=rules)
    await fan_out_at(database, third, rules=rules)

    assert await statuses(database, second) == {"a@x.org": "queued"}
    assert await statuses(database, third) == {"a@x.org": "skipped"}


async def test_organization_scope_through_the_scheduler(
    database: Database, settings: Settings
) -> None:
    acme, globex = (
        await make_organization(database, "acme"),
        await make_organization(database, "globex"),
    )
    first = await make_campaign(database, acme, name="Acme news", emails=["a@x.org"])
    second = await make_campaign(database, globex, name="Globex news", emails=["a@x.org"])
    scheduler = scheduler_for(database, settings, cooldown_scope="organization")

    for campaign_id in (first, second):
        await execute_now(database, campaign_id)
        await scheduler.tick()

    assert await statuses(database, second) == {"a@x.org": "queued"}


async def test_cooldown_days_zero_turns_it_off(database: Database, settings: Settings) -> None:
    organization = await make_organization(database)
    await winter_event(database, organization, ["a@x.org"])
    first = await make_campaign(database, organization, name="One", emails=["a@x.org"])
    second = await make_campaign(database, organization, name="Two", emails=["a@x.org"])
    scheduler = scheduler_for(database, settings, cooldown_days=0)

    for campaign_id in (first, second):
        await execute_now(database, campaign_id)
        await scheduler.tick()

    assert await statuses(database, first) == {"a@x.org": "queued"}
    assert await statuses(database, second) == {"a@x.org": "queued"}
    async with database.connection() as connection:
        preview_result = await preview(
            connection,
            await campaign(database, second),
            rules=CooldownRules(days=0, scope="global"),
            now=NOW,
        )
    assert preview_result == (1, 0, [])


async def test_suppressed_addresses_are_skipped_with_their_reason(database: Database) -> None:
    organization = await make_organization(database)
    async with database.transaction() as connection:
        await connection.execute(
            insert(suppressions).values(
                organization_id=organization, email="gone@x.org", reason="bounced", created_at=NOW
            )
        )
    spring = await make_campaign(database, organization, emails=["gone@x.org", "ok@x.org"])

    await fan_out_at(database, spring)

    row = (await delivery_states(database, spring))["gone@x.org"]
    assert (row["status"], row["code"]) == ("skipped", "suppressed")
    assert row["reason"] == "on the suppression list (bounced)"
    async with database.connection() as connection:
        held = (await connection.execute(select(cooldown_ledger.c.email))).scalars().all()
    assert held == ["ok@x.org"]  # a suppressed address takes no reservation


async def test_preview_gives_reasons_and_dates_and_changes_nothing(database: Database) -> None:
    organization = await make_organization(database)
    await winter_event(database, organization, ["a@x.org", "b@x.org"])
    async with database.transaction() as connection:
        await connection.execute(
            insert(suppressions).values(
                organization_id=organization, email="c@x.org", reason="unsubscribed", created_at=NOW
            )
        )
    spring = await make_campaign(
        database, organization, emails=["a@x.org", "b@x.org", "c@x.org", "d@x.org"]
    )

    async with database.connection() as connection:
        total, ineligible, reasons = await preview(
            connection, await campaign(database, spring), rules=GLOBAL, now=NOW
        )

    assert (total, ineligible) == (4, 3)
    assert reasons == [
        {
            "email": "a@x.org",
            "code": "cooldown",
            "reason": "received 'Winter Event' 15 days ago; eligible again on 2027-01-12",
        },
        {
            "email": "b@x.org",
            "code": "cooldown",
            "reason": "received 'Winter Event' 15 days ago; eligible again on 2027-01-12",
        },
        {
            "email": "c@x.org",
            "code": "suppressed",
            "reason": "on the suppression list (unsubscribed)",
        },
    ]
    assert set((await statuses(database, spring)).values()) == {"pending"}


async def test_preview_agrees_with_the_fan_out(database: Database) -> None:
    organization = await make_organization(database)
    await winter_event(database, organization, [f"w{n}@x.org" for n in range(20)])
    spring = await make_campaign(
        database, organization, emails=[f"w{n}@x.org" for n in range(10, 40)]
    )
    async with database.connection() as connection:
        _, ineligible, reasons = await preview(
            connection, await campaign(database, spring), rules=GLOBAL, now=NOW
        )

    await fan_out_at(database, spring)

    states = await delivery_states(database, spring)
    skipped = {email: row["reason"] for email, row in states.items() if row["status"] == "skipped"}
    assert ineligible == len(skipped) == 10
    assert {reason["email"]: reason["reason"] for reason in reasons} == skipped


async def test_second_fan_out_of_a_campaign_does_nothing(database: Database) -> None:
    organization = await make_organization(database)
    spring = await make_campaign(database, organization)

    assert await fan_out_at(database, spring) is not None
    async with database.transaction() as connection:
        assert await fan_out(connection, spring, rules=GLOBAL, now=soon(0)) is None


RACING_FAN_OUT = (
    """
import asyncio, sys, time
from campaignd.scheduling.retry import in_transaction
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out

async def main(url, campaign_id):
    database = Database(url)
    rules = CooldownRules(days=90, scope="global")
    async with database.connection():
        pass  # connected: the race is only the fan-out
    await asyncio.to_thread(wait_for_go)
    async def work(connection):
        return await fan_out(connection, campaign_id, rules=rules, now=utcnow())
    try:
        started = time.time()
        result = await in_transaction(database, work, attempts=20)
        print(started, time.time())
        print(result)
    finally:
        await database.dispose()

def wait_for_go():
"""
    + textwrap.indent(WAIT_FOR_GO, "    ")
    + """

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""
)


async def test_concurrent_fan_outs_never_share_an_address(postgres_url: str) -> None:
    """Four processes fan out four overlapping audiences at the same moment (PostgreSQL)."""
    database = Database(postgres_url)
    try:
        organization = await make_organization(database)
        pool = [f"person{n:05d}@example.org" for n in range(6000)]
        chooser = random.Random(7)
        audiences = {
            name: chooser.sample(pool, 3000) for name in ("North", "South", "East", "West")
        }
        ids = {}
        for name, emails in audiences.items():
            ids[name] = await make_campaign(database, organization, name=name, emails=emails)
            await execute_now(database, ids[name])
        outputs = race(
            [
                [sys.executable, "-c", RACING_FAN_OUT, postgres_url, str(campaign_id)]
                for campaign_id in ids.values()
            ],
            cwd=str(REPOSITORY),
            timeout=120,
        )
        windows = []
        for output in outputs:
            assert output.strip().splitlines()[-1] != "None", "every fan-out claimed its campaign"
            windows.append(racing_window(output))
        assert_overlapped(windows)

        async with database.connection() as connection:
            rows = (
                await connection.execute(
                    select(deliveries.c.email, deliveries.c.campaign_id, deliveries.c.status)
                )
            ).all()
            ledger = dict(
                (
                    await connection.execute(
                        select(cooldown_ledger.c.email, cooldown_ledger.c.campaign_id)
                    )
                ).all()
            )
        rows = [
            (email, campaign_id, shown_status(status, fanned_out=True))
            for email, campaign_id, status in rows
        ]
        queued = Counter(email for email, _, status in rows if status == "queued")
        everyone = {email for emails in audiences.values() for email in emails}
        assert set(queued) == everyone and max(queued.values()) == 1
        assert {status for _, _, status in rows} == {"queued", "skipped"}
        for email, campaign_id, status in rows:
            assert (ledger[email] == campaign_id) == (status == "queued")
    finally:
        await database.dispose()
