"""The preview's count of recipients lacking a template variable, on SQLite and PostgreSQL.

Each size gets a fresh database with one campaign (the benchmark's templates: first_name,
city, since) whose recipients mostly have their variables; one in 100 has no first_name
and one in 200 an empty city. Timed: the count of the campaign's three variables, the
count of 50 variables (the most counted at once, the worst case), and, beside them, the
eligibility preview that the same page and command run anyway. Each is the best of two.
With ``--list``, the campaign has no recipients of its own but targets a list of as many
contacts, thinned out the same way, so the count reads the contacts' attributes; then the
look-up of the audience's first contact (by address) is timed too: what a test send, the
admin page's message preview and the campaign list's subject sample read before the
campaign starts.

    python -m benchmarks.missing_variables --sizes 100000,1000000
    python -m benchmarks.missing_variables --sizes 1000000 --list
    python -m benchmarks.missing_variables --postgres postgresql://postgres@127.0.0.1:5432/test

PostgreSQL comes from ``--postgres`` or ``CAMPAIGND_TEST_DATABASE_URL``; the script creates
its own database next to it and drops it afterwards. Without either, SQLite only.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, literal, select, text

from benchmarks.common import (
    analyse,
    create_campaign,
    create_list,
    database_url,
    seed_audience,
    seed_list_audience,
)
from campaignd.actions.subject_samples import SAMPLE_CONTACTS
from campaignd.domain.template_variables import RecipientVariable, recipient_variables
from campaignd.store.campaign_audience import campaign_audience
from campaignd.store.campaigns import get_campaign
from campaignd.store.columns import UtcDateTime, utcnow
from campaignd.store.database import Database
from campaignd.store.fanout import CooldownRules, preview
from campaignd.store.rows import Row
from campaignd.store.sample_recipients import sample_recipient
from campaignd.store.schema import campaign_lists, contacts, list_members
from campaignd.store.variables import MAX_VARIABLES, lacking_variables

WITHOUT_FIRST_NAME_EVERY = 100
EMPTY_CITY_EVERY = 200


async def thin_out(database: Database, table: str, owner: str, owner_id: int) -> None:
    """Take first_name from every 100th row of ``table`` whose ``owner`` column is
    ``owner_id`` and empty the city of every 200th: the recipients' ``variables``
    (``json`` on PostgreSQL) or the contacts' ``attributes`` (``jsonb``)."""
    column = "attributes" if table == "contacts" else "variables"
    if database.is_sqlite:
        remove = f"json_remove({column}, '$.first_name')"
        empty = f"json_set({column}, '$.city', '')"
    else:
        document = column if table == "contacts" else f"CAST({column} AS jsonb)"
        remove = f"{document} - 'first_name'"
        empty = f"jsonb_set({document}, '{{city}}', '\"\"')"
        if table != "contacts":
            remove, empty = f"CAST({remove} AS json)", f"CAST({empty} AS json)"
    async with database.transaction() as connection:
        for change, every in ((remove, WITHOUT_FIRST_NAME_EVERY), (empty, EMPTY_CITY_EVERY)):
            await connection.execute(
                text(
                    f"UPDATE {table} SET {column} = {change} "
                    f"WHERE {owner} = :owner AND id % :every = 0"
                ),
                {"owner": owner_id, "every": every},
            )


async def timed(work: Callable[[], Awaitable[Any]], times: int = 2) -> tuple[float, Any]:
    """The best of ``times`` runs: the first read of freshly written rows also pays for
    PostgreSQL's hint bits, whichever statement comes first."""
    best, result = float("inf"), None
    for _ in range(times):
        started = time.perf_counter()
        result = await work()
        best = min(best, time.perf_counter() - started)
    return best, result


async def measure(url: str, size: int, *, from_list: bool = False) -> None:
    database = Database(url)
    try:
        if from_list:
            audience = await seed_list_audience(database, size)
            await thin_out(database, "contacts", "organization_id", audience.organization_id)
        else:
            audience = await seed_audience(database, size)
            await thin_out(database, "deliveries", "campaign_id", audience.campaign_id)
        if not database.is_sqlite:
            await analyse(database)
        async with database.connection() as connection:
            campaign = await get_campaign(connection, audience.campaign_id)
            assert campaign is not None
            used = recipient_variables(
                campaign["subject"], campaign["html_body"], campaign["text_body"]
            )
            assert [variable.name for variable in used] == ["city", "first_name", "since"]
            many = [*used, *(RecipientVariable(f"v{n}", False) for n in range(MAX_VARIABLES - 3))]
            rules = CooldownRules(days=90, scope="global")
            eligibility, _ = await timed(
                lambda: preview(connection, campaign, rules=rules, now=utcnow(), limit=50)
            )
            targets = None
            if from_list:
                targets = await campaign_audience(
                    connection, audience.campaign_id, audience.organization_id, now=utcnow()
                )
            seconds, found = await timed(
                lambda: lacking_variables(connection, audience.campaign_id, used, audience=targets)
            )
            counts = {item.name: item.recipients for item in found}
            assert counts == {
                "first_name": size // WITHOUT_FIRST_NAME_EVERY,
                "city": size // EMPTY_CITY_EVERY,
            }, counts
            worst, _ = await timed(
                lambda: lacking_variables(connection, audience.campaign_id, many, audience=targets)
            )
        first = ""
        if from_list:
            first = await first_contact_times(database, audience.organization_id, campaign)
        dialect = "sqlite" if database.is_sqlite else "postgresql"
        who = "contacts of a list" if from_list else "recipients"
        print(
            f"{dialect:<10} {size:>9,} {who}  3 variables {seconds:6.2f} s"
            f"  {MAX_VARIABLES} variables {worst:6.2f} s"
            f"  (eligibility preview {eligibility:6.2f} s){first}",
            flush=True,
        )
    finally:
        await database.dispose()


async def first_contact_times(database: Database, organization_id: int, campaign: Row) -> str:
    """The first contact of the campaign's list of everyone, and of another campaign's list
    of the ten addresses that sort last, looked for everywhere and within the campaign
    list's bound (``SAMPLE_CONTACTS``)."""
    now = utcnow()
    async with database.transaction() as connection:
        small = await create_campaign(connection, organization_id, name="Ten")
        list_id = await create_list(connection, organization_id, "Last ten")
        last_ten = (
            select(contacts.c.id)
            .where(contacts.c.organization_id == organization_id)
            .order_by(contacts.c.email.desc())
            .limit(10)
            .subquery()
        )
        await connection.execute(
            insert(list_members).from_select(
                ["list_id", "contact_id", "status", "created_at", "updated_at"],
                select(
                    literal(list_id),
                    last_ten.c.id,
                    literal("confirmed"),
                    literal(now, UtcDateTime()),
                    literal(now, UtcDateTime()),
                ),
            )
        )
        await connection.execute(insert(campaign_lists).values(campaign_id=small, list_id=list_id))
    figures = []
    async with database.connection() as connection:
        ten = await get_campaign(connection, small)
        assert ten is not None
        for name, row in (("list of all", campaign), ("list of the last 10", ten)):
            for bound in (None, SAMPLE_CONTACTS):
                seconds, contact = await timed(
                    functools.partial(
                        sample_recipient, connection, row, None, now=utcnow(), within=bound
                    )
                )
                found = "found" if contact is not None else "none"
                where = "anywhere" if bound is None else f"within {bound:,}"
                figures.append(f"{name}, {where}: {seconds * 1000:.1f} ms ({found})")
    return "\n    first contact: " + "; ".join(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated audiences")
    parser.add_argument("--postgres", default=os.environ.get("CAMPAIGND_TEST_DATABASE_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument(
        "--list", action="store_true", help="a campaign to a list of contacts, no recipients"
    )
    arguments = parser.parse_args()
    kinds = [
        kind
        for kind in ("sqlite", "postgresql")
        if arguments.only in (None, kind) and (kind == "sqlite" or arguments.postgres)
    ]
    with tempfile.TemporaryDirectory(prefix="campaignd-bench-") as folder:
        for size in (int(size) for size in arguments.sizes.split(",")):
            for kind in kinds:
                with database_url(kind, Path(folder), arguments.postgres) as url:
                    asyncio.run(measure(url, size, from_list=arguments.list))


if __name__ == "__main__":
    main()
