"""Counting the recipients who lack a template variable, on a real SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from campaignd.domain.template_variables import RecipientVariable
from campaignd.store import campaigns, organizations, recipients
from campaignd.store.database import Database
from campaignd.store.variables import MAX_VARIABLES, LackingVariable, lacking_variables

VALUES: dict[str, dict[str, Any] | None] = {
    "full@example.org": {"first_name": "Ann", "city": "Oslo"},
    "blank@example.org": {"first_name": "", "city": "Rome"},
    "spaces@example.org": {"first_name": "   ", "city": "Lima"},
    "null@example.org": {"first_name": None, "city": None},
    "absent@example.org": {"city": "Kyiv"},
    "nothing@example.org": None,
    "zero@example.org": {"first_name": 0, "city": False},
    "nested@example.org": {"first_name": {"given": "Bo"}, "city": ["Oslo"]},
}


async def campaign_of(
    database: Database, values: dict[str, dict[str, Any] | None], slug: str = "acme"
) -> int:
    async with database.transaction() as connection:
        organization = await organizations.create_organization(connection, slug=slug, name=slug)
        campaign_id = await campaigns.create_campaign(
            connection,
            organization_id=int(organization["id"]),
            actor="test",
            name="Spring",
            subject="Hi {{ first_name }}",
            text_body="From {{ city }}",
        )
        await recipients.add_recipients(connection, campaign_id, values.items())
    return campaign_id


PADDING = [RecipientVariable(f"unused_{number}", empty_only=True) for number in range(4)]
"""Variables nobody has: with them a count reads five keys or more of each recipient, which
PostgreSQL does from one cast to ``jsonb`` (``PARSE_ONCE_FROM_KEYS``)."""
FEW_OR_MANY = pytest.mark.parametrize("padding", [[], PADDING], ids=["few", "many"])


async def count(database: Database, campaign_id: int, *variables: RecipientVariable) -> Any:
    async with database.connection() as connection:
        found = await lacking_variables(connection, campaign_id, variables)
    return {
        item.name: (item.recipients, [email for _, email in item.sample])
        for item in found
        if not item.name.startswith("unused_")
    }


@FEW_OR_MANY
async def test_absent_null_and_blank_values_are_lacking(
    database: Database, padding: list[RecipientVariable]
) -> None:
    campaign_id = await campaign_of(database, VALUES)
    found = await count(
        database, campaign_id, RecipientVariable("first_name", empty_only=False), *padding
    )
    lacking = {
        "blank@example.org",
        "spaces@example.org",
        "null@example.org",
        "absent@example.org",
        "nothing@example.org",
    }
    number, sample = found["first_name"]
    assert number == 5
    assert len(sample) == 3 and set(sample) <= lacking and sample == sorted(sample)


@FEW_OR_MANY
async def test_with_a_default_only_present_but_empty_values_are_lacking(
    database: Database, padding: list[RecipientVariable]
) -> None:
    campaign_id = await campaign_of(database, VALUES)
    found = await count(
        database,
        campaign_id,
        RecipientVariable("first_name", empty_only=True),
        RecipientVariable("city", empty_only=True),
        *padding,
    )
    assert found == {
        "first_name": (3, ["blank@example.org", "null@example.org", "spaces@example.org"]),
        "city": (1, ["null@example.org"]),
    }


async def test_nobody_lacking_is_not_listed_and_the_most_lacking_come_first(
    database: Database,
) -> None:
    values: dict[str, dict[str, Any] | None] = {
        f"p{number}@example.org": {"first_name": "P", "code": "" if number % 2 else "C"}
        for number in range(10)
    }
    values["q@example.org"] = {"code": "C"}
    campaign_id = await campaign_of(database, values)
    async with database.connection() as connection:
        found = await lacking_variables(
            connection,
            campaign_id,
            [
                RecipientVariable("city", empty_only=True),
                RecipientVariable("code", empty_only=False),
                RecipientVariable("first_name", empty_only=False),
            ],
        )
        rows = await recipients.list_deliveries(connection, campaign_id, limit=20)
    [q] = [row for row in rows if row["email"] == "q@example.org"]
    assert [(item.name, item.recipients, len(item.sample)) for item in found] == [
        ("code", 5, 3),
        ("first_name", 1, 1),
    ]
    assert found[1] == LackingVariable("first_name", 1, ((int(q["id"]), "q@example.org"),))


async def test_only_the_campaigns_own_recipients_are_counted(database: Database) -> None:
    theirs = await campaign_of(
        database, {f"t{number}@globex.example": {} for number in range(3)}, slug="globex"
    )
    ours = await campaign_of(
        database, {"ann@example.org": {"first_name": "Ann"}, "bob@example.org": {}}
    )
    variable = RecipientVariable("first_name", empty_only=False)
    assert await count(database, ours, variable) == {"first_name": (1, ["bob@example.org"])}
    assert (await count(database, theirs, variable))["first_name"][0] == 3


async def test_the_number_of_variables_is_bounded(database: Database) -> None:
    campaign_id = await campaign_of(database, {"a@example.org": {}})
    many = [RecipientVariable(f"v{number}", empty_only=False) for number in range(MAX_VARIABLES)]
    found = await count(database, campaign_id, *many)
    assert len(found) == MAX_VARIABLES
    with pytest.raises(ValueError, match="at most 50"):
        await count(database, campaign_id, *many, RecipientVariable("one_more", empty_only=False))
