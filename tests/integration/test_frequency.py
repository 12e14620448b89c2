"""Frequency rules on real databases: several rules, categories, reasons, preview, races."""

from __future__ import annotations

import random
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from campaignd.domain.frequency import Rule
from campaignd.domain.lifecycle import CampaignStatus
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, fan_out, preview
from campaignd.store.frequency_rules import OWN, set_rules
from campaignd.store.schema import campaigns, cooldown_ledger, deliveries, ledger_entries
from campaignd.store.waiting import shown_status
from tests.integration.delivery_support import worker
from tests.integration.scheduling_helpers import (
    campaign,
    delivery_states,
    execute_now,
    make_campaign,
    make_organization,
)
from tests.integration.smtp_server import SmtpServer
from tests.integration.test_fanout import RACING_FAN_OUT, REPOSITORY
from tests.support import assert_overlapped, race, racing_window

NOW = datetime(2026, 10, 29, 12, 0, tzinfo=UTC)
SETTINGS = CooldownRules(days=90, scope="global")
DAILY_AND_WEEKLY = (Rule(1, 1), Rule(3, 7))


async def rules_for(
    database: Database, organization: int, rules: tuple[Rule, ...], category: str = OWN
) -> None:
    async with database.transaction() as connection:
        await set_rules(connection, organization, category=category, rules=rules, now=NOW)


async def sent_before(
    database: Database,
    organization: int,
    name: str,
    emails: list[str],
    *,
    days_ago: float,
    category: str | None = None,
) -> int:
    """A finished campaign that reached ``emails`` ``days_ago`` before NOW: its ledger
    entries (and, without a category, the latest-message rows) as a fan-out writes them."""
    campaign_id = await make_campaign(database, organization, name=name, emails=emails)
    when = NOW - timedelta(days=days_ago)
    async with database.transaction() as connection:
        await connection.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(status=CampaignStatus.SENT.value, category=category)
        )
        await connection.execute(
            insert(ledger_entries),
            [
                {
                    "scope": 0,
                    "email": email,
                    "campaign_id": campaign_id,
                    "organization_id": organization,
                    "category": category,
                    "campaign_name": name,
                    "contacted_at": when,
                }
                for email in emails
            ],
        )
        if category is None:
            for email in emails:
                held = (
                    await connection.execute(
                        select(cooldown_ledger.c.contacted_at).where(
                            cooldown_ledger.c.scope == 0, cooldown_ledger.c.email == email
                        )
                    )
                ).scalar_one_or_none()
                row = {"campaign_id": campaign_id, "campaign_name": name, "contacted_at": when}
                if held is None:
                    await connection.execute(
                        insert(cooldown_ledger).values(scope=0, email=email, **row)
                    )
                elif held < when:
                    await connection.execute(
                        update(cooldown_ledger)
                        .where(cooldown_ledger.c.scope == 0, cooldown_ledger.c.email == email)
                        .values(**row)
                    )
    return campaign_id


async def start(
    database: Database,
    organization: int,
    name: str,
    emails: list[str],
    *,
    category: str | None = None,
    now: datetime = NOW,
) -> tuple[int, dict[str, Any]]:
    campaign_id = await make_campaign(database, organization, name=name, emails=emails)
    if category is not None:
        async with database.transaction() as connection:
            await connection.execute(
                update(campaigns).where(campaigns.c.id == campaign_id).values(category=category)
            )
    await execute_now(database, campaign_id)
    async with database.transaction() as connection:
        assert await fan_out(connection, campaign_id, rules=SETTINGS, now=now) is not None
    states = await delivery_states(database, campaign_id)
    return campaign_id, {
        email: (shown_status(str(row["status"]), fanned_out=True), row["reason"])
        for email, row in states.items()
    }


async def test_every_rule_of_a_set_caps_and_the_reason_names_it(database: Database) -> None:
    organization = await make_organization(database)
    await rules_for(database, organization, DAILY_AND_WEEKLY)
    # busy@: three this week; today@: one this morning; twice@: two this week, none today.
    await sent_before(database, organization, "Monday", ["busy@x.org", "twice@x.org"], days_ago=3)
    await sent_before(database, organization, "Tuesday", ["busy@x.org", "twice@x.org"], days_ago=2)
    await sent_before(database, organization, "Wednesday", ["busy@x.org"], days_ago=1.5)
    await sent_before(database, organization, "Morning", ["today@x.org"], days_ago=0.1)

    _, result = await start(
        database,
        organization,
        "Thursday",
        ["busy@x.org", "today@x.org", "twice@x.org", "fresh@x.org"],
    )

    assert result["fresh@x.org"] == ("queued", None)
    assert result["twice@x.org"] == ("queued", None)
    status, reason = result["busy@x.org"]
    assert status == "skipped"
    assert reason == (
        "3 messages in the last 7 days, among them 'Monday' 3 days ago "
        "(at most 3 per 7 days); eligible again on 2026-11-02"
    )
    status, reason = result["today@x.org"]
    assert status == "skipped"
    assert reason == ("received 'Morning' today (at most 1 per day); eligible again on 2026-10-30")


async def test_a_reserved_message_counts_for_the_next_campaign(database: Database) -> None:
    organization = await make_organization(database)
    await rules_for(database, organization, (Rule(2, 7),))
    _, one = await start(database, organization, "One", ["a@x.org"], now=NOW)
    _, two = await start(database, organization, "Two", ["a@x.org"], now=NOW)
    _, three = await start(database, organization, "Three", ["a@x.org"], now=NOW)
    assert one["a@x.org"][0] == two["a@x.org"][0] == "queued"
    assert three["a@x.org"][0] == "skipped"
    assert "'One' today (at most 2 per 7 days)" in three["a@x.org"][1]
    # A week later the first message no longer counts.
    _, later = await start(
        database, organization, "Later", ["a@x.org"], now=NOW + timedelta(days=7, hours=1)
    )
    assert later["a@x.org"][0] == "queued"


async def test_a_category_has_its_own_rules_and_its_own_count(database: Database) -> None:
    organization = await make_organization(database)
    await rules_for(database, organization, (Rule(1, 30),))
    await rules_for(database, organization, (Rule(2, 7),), category="product-updates")
    await sent_before(database, organization, "Promotion", ["a@x.org"], days_ago=2)

    # The promotions cap does not hold a product update back...
    _, update_one = await start(
        database, organization, "Release 1", ["a@x.org"], category="product-updates"
    )
    _, update_two = await start(
        database, organization, "Release 2", ["a@x.org"], category="product-updates"
    )
    _, update_three = await start(
        database, organization, "Release 3", ["a@x.org"], category="product-updates"
    )
    assert update_one["a@x.org"][0] == update_two["a@x.org"][0] == "queued"
    # ...which counts only against its category's rules,
    assert update_three["a@x.org"][0] == "skipped"
    assert "among them 'Release 1' today (at most 2 per 7 days)" in update_three["a@x.org"][1]
    # and never against the organization's: b@ got two updates and still gets a promotion.
    await start(database, organization, "Release 4", ["b@x.org"], category="product-updates")
    _, promotion = await start(database, organization, "Sale", ["a@x.org", "b@x.org"])
    assert promotion["b@x.org"] == ("queued", None)
    assert promotion["a@x.org"][0] == "skipped"
    assert "'Promotion' 2 days ago" in promotion["a@x.org"][1]


async def test_a_category_without_rules_is_never_capped(database: Database) -> None:
    organization = await make_organization(database)
    await rules_for(database, organization, (), category="service")
    await sent_before(database, organization, "Promotion", ["a@x.org"], days_ago=0)
    for name in ("Notice 1", "Notice 2"):
        _, result = await start(database, organization, name, ["a@x.org"], category="service")
        assert result["a@x.org"] == ("queued", None)


async def test_the_default_rule_is_the_cooldown(database: Database) -> None:
    """No rules set: 1 per COOLDOWN_DAYS, worded as the cooldown always was."""
    organization = await make_organization(database)
    await sent_before(database, organization, "Winter Event", ["a@x.org"], days_ago=15)
    _, result = await start(database, organization, "Spring", ["a@x.org", "b@x.org"])
    assert result["a@x.org"] == (
        "skipped",
        "received 'Winter Event' 15 days ago; eligible again on 2027-01-12",
    )
    assert result["b@x.org"] == ("queued", None)
    async with database.connection() as connection:
        entries = (
            await connection.execute(select(ledger_entries.c.email, ledger_entries.c.campaign_name))
        ).all()
    assert ("b@x.org", "Spring") in entries, "the default rule writes its entries too"
    assert ("a@x.org", "Spring") not in entries, "a held address gets no entry of Spring"


async def test_a_fan_out_nobody_holds_enters_each_recipient_once(database: Database) -> None:
    """Nothing held: every recipient is reserved and entered once, by the reservation."""
    organization = await make_organization(database)
    emails = [f"person{number}@x.org" for number in range(25)]
    _, result = await start(database, organization, "Spring", emails)
    assert set(result.values()) == {("queued", None)}
    async with database.connection() as connection:
        entries = (
            await connection.execute(select(ledger_entries.c.email, ledger_entries.c.campaign_name))
        ).all()
        reserved = (
            await connection.execute(
                select(cooldown_ledger.c.email).where(cooldown_ledger.c.campaign_name == "Spring")
            )
        ).all()
    assert sorted(entries) == [(email, "Spring") for email in sorted(emails)]
    assert sorted(email for (email,) in reserved) == sorted(emails)


async def test_preview_says_who_would_be_capped_by_which_rule(database: Database) -> None:
    organization = await make_organization(database)
    await rules_for(database, organization, DAILY_AND_WEEKLY)
    await sent_before(database, organization, "Morning", ["today@x.org"], days_ago=0.1)
    for day in (1.5, 2, 3):
        await sent_before(database, organization, f"Day {day}", ["busy@x.org"], days_ago=day)
    campaign_id = await make_campaign(
        database,
        organization,
        name="Next",
        emails=["today@x.org", "busy@x.org", "fresh@x.org"],
    )
    async with database.connection() as connection:
        row = await campaign(database, campaign_id)
        total, ineligible, reasons = await preview(connection, row, rules=SETTINGS, now=NOW)
    assert (total, ineligible) == (3, 2)
    by_email = {reason["email"]: reason["reason"] for reason in reasons}
    assert "(at most 1 per day)" in by_email["today@x.org"]
    assert "(at most 3 per 7 days)" in by_email["busy@x.org"]
    _, result = await start(database, organization, "Now", ["today@x.org", "busy@x.org"])
    assert {email for email, (status, _) in result.items() if status == "skipped"} == {
        "today@x.org",
        "busy@x.org",
    }


async def test_cancelled_deliveries_give_their_slot_back(database: Database) -> None:
    from campaignd.store.ledger import give_back_reservations

    organization = await make_organization(database)
    await rules_for(database, organization, (Rule(1, 7),))
    first, _ = await start(database, organization, "First", ["a@x.org"])
    async with database.transaction() as connection:
        await give_back_reservations(connection, campaign_id=first, scope=0, emails=["a@x.org"])
    _, second = await start(database, organization, "Second", ["a@x.org"])
    assert second["a@x.org"] == ("queued", None)


@pytest.mark.parametrize("category", [None, "news"])
async def test_racing_fan_outs_never_exceed_the_rule_at_the_smtp_server(
    postgres_url: str, tmp_path: Path, category: str | None
) -> None:
    """Four processes start four overlapping campaigns in the same moment against
    ``2 per 7 days``: nobody is reserved more than twice, nor mailed more than twice."""
    database = Database(postgres_url)
    try:
        organization = await make_organization(database)
        await rules_for(database, organization, (Rule(2, 7),), category=category or OWN)
        pool = [f"person{n:04d}@example.org" for n in range(500)]
        chooser = random.Random(11)
        audiences = {name: chooser.sample(pool, 350) for name in ("North", "South", "East", "West")}
        ids = {}
        for name, emails in audiences.items():
            ids[name] = await make_campaign(database, organization, name=name, emails=emails)
            if category is not None:
                async with database.transaction() as connection:
                    await connection.execute(
                        update(campaigns)
                        .where(campaigns.c.id == ids[name])
                        .values(category=category)
                    )
            await execute_now(database, ids[name])
        outputs = race(
            [
                [sys.executable, "-c", RACING_FAN_OUT, postgres_url, str(campaign_id)]
                for campaign_id in ids.values()
            ],
            cwd=str(REPOSITORY),
            timeout=120,
        )
        assert_overlapped([racing_window(output) for output in outputs])

        async with database.connection() as connection:
            rows = (await connection.execute(select(deliveries.c.email, deliveries.c.status))).all()
        queued = Counter(
            email for email, status in rows if shown_status(status, fanned_out=True) == "queued"
        )
        wanted = Counter(email for emails in audiences.values() for email in emails)
        assert queued == Counter({email: min(count, 2) for email, count in wanted.items()})

        with SmtpServer() as smtp:
            sending = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=postgres_url,
                email_transport=smtp.url,
                smtp_connections=4,
                public_url="https://mail.example.org",
                from_address="News <news@acme.example>",
            )
            await worker(database, sending).run_burst()
            mailed = Counter(
                recipient for message in smtp.messages for recipient in message.recipients
            )
        assert max(mailed.values()) == 2
        assert mailed == queued
    finally:
        await database.dispose()
