"""The recipient a test send, a message preview or a subject sample is made for, when the
campaign is sent to a list: its first contact by address, looked for within a bound."""

from __future__ import annotations

from campaignd.store import campaign_targets
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.sample_recipients import sample_recipient
from tests.integration.scheduling_helpers import campaign, make_campaign, make_organization
from tests.integration.targeting_support import add_contacts, add_list


async def test_the_first_contact_is_looked_for_among_the_first_addresses_only(
    database: Database,
) -> None:
    organization_id = await make_organization(database)
    await add_contacts(
        database,
        organization_id,
        [
            ("amy@example.org", {}),
            ("bea@example.org", {}),
            ("cal@example.org", {"first_name": "Cal"}),
            ("dan@example.org", {"first_name": "Dan"}),
        ],
    )
    members = {"cal@example.org": "confirmed", "dan@example.org": "confirmed"}
    list_id = await add_list(database, organization_id, "VIP", members)
    campaign_id = await make_campaign(database, organization_id, emails=())
    async with database.transaction() as connection:
        await campaign_targets.set_lists(connection, campaign_id, [list_id])
    row = await campaign(database, campaign_id)

    async with database.connection() as connection:
        unbounded = await sample_recipient(connection, row, None, now=utcnow())
        within_two = await sample_recipient(connection, row, None, now=utcnow(), within=2)
        within_three = await sample_recipient(connection, row, None, now=utcnow(), within=3)
        beyond_all = await sample_recipient(connection, row, None, now=utcnow(), within=50)

    assert unbounded is not None and unbounded.email == "cal@example.org"
    assert unbounded.variables == {"first_name": "Cal"}
    assert within_two is None  # amy and bea are the first two addresses; neither is a member
    assert within_three == unbounded
    assert beyond_all == unbounded  # fewer contacts than the bound: every one is looked at
