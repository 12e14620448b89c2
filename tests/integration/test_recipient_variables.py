"""Recipients' variables come back from the database as they were given, on both databases:
characters ``COPY`` escapes, non-ASCII text, and the values orjson does not write (integers
beyond 64 bits, unpaired surrogates), which go through the standard library instead."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from campaignd.store import campaigns, organizations, recipients
from campaignd.store.database import Database
from campaignd.store.schema import deliveries

GIVEN: dict[str, dict[str, Any] | None] = {
    "plain@example.com": {"first_name": "Ada", "plan": "pro"},
    "escapes@example.com": {"tab": "a\tb", "line": "one\ntwo", "slash": "back\\slash \\N"},
    "text@example.com": {"name": "Zoë Ñúñez", "city": "東京", "emoji": "🎉", "quote": 'say "hi"'},
    "numbers@example.com": {"big": 2**70, "small": -(2**63), "ratio": 2.5, "flags": [True, None]},
    "surrogate@example.com": {"odd": "\ud83d"},
    "nested@example.com": {"address": {"street": "Main", "lines": ["a", {"b": 1}]}},
    "none@example.com": None,
}


async def test_variables_are_read_back_as_given(database: Database) -> None:
    async with database.transaction() as connection:
        organization = await organizations.create_organization(connection, slug="acme", name="Acme")
        campaign_id = await campaigns.create_campaign(
            connection,
            organization_id=organization["id"],
            actor="test",
            name="Winter Event",
            subject="Hi",
            text_body="Hello",
        )
        added = await recipients.add_recipients(connection, campaign_id, list(GIVEN.items()))
    assert added == len(GIVEN)
    async with database.connection() as connection:
        stored = dict(
            (
                await connection.execute(
                    select(deliveries.c.email, deliveries.c.variables).where(
                        deliveries.c.campaign_id == campaign_id
                    )
                )
            ).all()
        )
    assert stored == GIVEN
