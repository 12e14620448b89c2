"""Privacy: everything stored about one address exported as JSON, and erased for good:
afterwards no import (contacts or campaign recipients) brings the address back, and it is
never mailed again."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import cast, insert, select
from sqlalchemy.types import Text

from campaignd.actions.feedback import apply_event
from campaignd.actions.tracking import Tracker
from campaignd.delivery.tracking import tracking_tokens
from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.domain.feedback import FeedbackEvent, FeedbackKind, FeedbackSource
from campaignd.domain.webhooks import EVENT_TYPES
from campaignd.settings import Settings
from campaignd.store.columns import utcnow
from campaignd.store.database import Database
from campaignd.store.ledger import GLOBAL_SCOPE
from campaignd.store.rows import every
from campaignd.store.schema import (
    audit_log,
    campaigns,
    contacts,
    cooldown_ledger,
    deliveries,
    erased_addresses,
    feedback_events,
    import_reports,
    list_members,
    lists,
    metadata,
)
from campaignd.store.secrets import instance_secret
from campaignd.store.tracking import save_links
from tests.integration.api_client import Api, open_api
from tests.integration.contact_support import (
    contact_statuses,
    messages_to,
    organization_id,
    send_campaign,
    suppressed,
)
from tests.integration.delivery_support import sending_campaign, worker
from tests.integration.test_contact_status import unsubscribe_path
from tests.integration.tracking_support import BROWSER
from tests.integration.webhook_support import (
    Clock,
    add_endpoint,
    dispatcher,
    receivers,
    webhook_settings,
)

ADA = "ada@example.com"


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def rows(api: Api, table: Any, *conditions: Any) -> list[dict[str, Any]]:
    async with api.database.connection() as connection:
        return every(await connection.execute(select(table).where(*conditions)))


async def add_to_list(api: Api, slug: str, email: str, name: str) -> None:
    identifier = await organization_id(api.database, slug)
    now = utcnow()
    async with api.database.transaction() as connection:
        list_id = await connection.scalar(
            insert(lists)
            .values(
                organization_id=identifier,
                name=name,
                visibility="public",
                opt_in="single",
                created_at=now,
                updated_at=now,
            )
            .returning(lists.c.id)
        )
        contact_id = await connection.scalar(
            select(contacts.c.id).where(
                contacts.c.organization_id == identifier, contacts.c.email == email
            )
        )
        await connection.execute(
            insert(list_members).values(
                list_id=list_id,
                contact_id=contact_id,
                status="confirmed",
                created_at=now,
                updated_at=now,
            )
        )


async def history_of_ada(api: Api, settings: Settings) -> dict[str, int]:
    """Ada as a contact in a list, mailed by one campaign, waiting in a draft, in both
    cooldown scopes, named by an import report and by audit entries, then blocklisted."""
    response = await api.call(
        "acme_admin",
        "POST",
        "/contacts",
        json={
            "contacts": [
                {"email": ADA, "attributes": {"first_name": "Ada", "plan": "pro"}},
                {"email": "bob@example.com"},
            ]
        },
    )
    assert response.status_code == 200
    await add_to_list(api, "acme", ADA, "Newsletter")
    sent = await send_campaign(
        api.database, settings, [(ADA, {"name": "Ada"}), "bob@example.com"], name="Winter Event"
    )
    draft = await api.create(recipients=[ADA, "bob@example.com"], name="Spring Sale")
    acme = await organization_id(api.database, "acme")
    async with api.database.transaction() as connection:
        await connection.execute(
            insert(cooldown_ledger).values(
                scope=acme,
                email=ADA,
                campaign_id=sent,
                campaign_name="Winter Event",
                contacted_at=utcnow(),
            )
        )
        await connection.execute(
            insert(import_reports).values(
                campaign_id=sent,
                file_name="people.csv",
                added=1,
                duplicates=0,
                invalid_count=1,
                invalid=[{"row": 3, "email": f"{ADA}; grace@example.org", "reason": "one"}],
                created_by="test",
                created_at=utcnow(),
            )
        )
    blocked = await api.call(
        "acme_admin", "PATCH", f"/contacts/{ADA}", json={"status": "blocklisted"}
    )
    assert blocked.status_code == 200
    return {"sent": sent, "draft": int(draft["id"]), "acme": acme}


async def test_export_holds_everything_stored_about_the_address(
    api: Api, settings: Settings
) -> None:
    ids = await history_of_ada(api, settings)
    response = await api.call("acme_admin", "GET", f"/contacts/{ADA.upper()}/export")
    assert response.status_code == 200, response.text
    document = response.json()
    assert (document["organization"], document["email"], document["erasedAt"]) == (
        "acme",
        ADA,
        None,
    )
    assert document["contact"]["attributes"] == {"first_name": "Ada", "plan": "pro"}
    assert document["contact"]["status"] == "blocklisted"
    assert [(row["name"], row["status"]) for row in document["lists"]] == [
        ("Newsletter", "confirmed")
    ]
    assert document["suppression"]["reason"] == "manual"
    deliveries_shown = {row["campaign"]: row for row in document["deliveries"]}
    assert deliveries_shown["Winter Event"]["status"] == "sent"
    assert deliveries_shown["Winter Event"]["campaignId"] == ids["sent"]
    assert deliveries_shown["Winter Event"]["sentAt"] is not None
    assert deliveries_shown["Winter Event"]["vars"] == {"name": "Ada"}
    assert deliveries_shown["Spring Sale"]["status"] == "pending"
    assert sorted((row["scope"], row["campaign"]) for row in document["cooldown"]) == [
        ("global", "Winter Event"),
        ("organization", "Winter Event"),
    ]
    assert {"contact.edit", "contact.upsert"} & {row["action"] for row in document["auditLog"]}
    assert "bob@example.com" not in json.dumps(document["deliveries"] + document["cooldown"])
    audited = await rows(api, audit_log, audit_log.c.action == "contact.export")
    assert [row["detail"] for row in audited] == [{"email": ADA}]


async def test_erasing_removes_the_personal_data_and_keeps_the_outcomes(
    api: Api, settings: Settings
) -> None:
    ids = await history_of_ada(api, settings)
    response = await api.call("acme_admin", "POST", f"/contacts/{ADA}/erase")
    assert response.status_code == 200, response.text
    result = response.json()
    placeholder = result["placeholder"]
    assert placeholder.startswith("erased-") and placeholder.endswith("@erased.invalid")
    assert (result["contact"], result["memberships"], result["suppression"]) == (1, 1, 1)
    assert (result["deliveries"], result["skipped"], result["alreadyErased"]) == (2, 1, False)

    assert await contact_statuses(api.database) == {"bob@example.com": "subscribed"}
    assert await rows(api, list_members) == []
    assert await suppressed(api.database) == {}
    assert await rows(api, deliveries, deliveries.c.email == ADA) == []
    kept = {
        row["campaign_id"]: row
        for row in await rows(api, deliveries, deliveries.c.email == placeholder)
    }
    winter, spring = kept[ids["sent"]], kept[ids["draft"]]
    assert (winter["status"], winter["variables"], winter["server_reply"]) == ("sent", None, None)
    assert winter["sent_at"] is not None
    assert (spring["status"], spring["code"], spring["reason"]) == (
        "skipped",
        "suppressed",
        "erased on request",
    )
    ledger = await rows(api, cooldown_ledger, cooldown_ledger.c.email == ADA)
    assert [(row["scope"], row["campaign_id"], row["campaign_name"]) for row in ledger] == [
        (GLOBAL_SCOPE, None, None)
    ]
    [report] = await rows(api, import_reports)
    assert report["invalid"][0]["email"] == f"{placeholder}; grace@example.org"
    async with api.database.connection() as connection:
        mentions = await connection.scalar(
            select(audit_log.c.id).where(cast(audit_log.c.detail, Text).like("%ada@%"))
        )
    assert mentions is None
    [erase_entry] = await rows(api, audit_log, audit_log.c.action == "contact.erase")
    assert erase_entry["detail"]["placeholder"] == placeholder
    [erased] = await rows(api, erased_addresses)
    digest = str(erased["address_hash"])
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert digest != hashlib.sha256(ADA.encode()).hexdigest()  # keyed: not guessable

    export = (await api.call("acme_admin", "GET", f"/contacts/{ADA}/export")).json()
    assert export["erasedAt"] is not None
    assert (export["contact"], export["suppression"]) == (None, None)
    assert export["deliveries"] == export["lists"] == export["cooldown"] == []
    again = (await api.call("acme_admin", "POST", f"/contacts/{ADA}/erase")).json()
    assert again["alreadyErased"] is True and again["deliveries"] == 0


async def test_an_erased_address_never_comes_back_and_is_never_mailed(
    api: Api, settings: Settings
) -> None:
    await send_campaign(api.database, settings, [ADA, "bob@example.com"], name="Before")
    [before] = messages_to(settings, ADA)
    erased = await api.call("acme_admin", "POST", f"/contacts/{ADA.upper()}/erase")
    assert erased.status_code == 200

    upserted = await api.call(
        "acme_admin",
        "POST",
        "/contacts",
        json={"contacts": [{"email": "Ada@Example.com"}, {"email": "carol@example.com"}]},
    )
    assert (upserted.json()["erased"], upserted.json()["created"]) == (1, 1)
    streamed = await api.call(
        "acme_admin",
        "POST",
        "/contacts",
        content=f"email\n{ADA}\n",
        headers={"content-type": "text/csv"},
    )
    assert streamed.json()["erased"] == 1
    assert ADA not in await contact_statuses(api.database)

    created = await api.create(recipients=[ADA, "dan@example.com"])
    assert (created["import"]["added"], created["import"]["erased"]) == (1, 1)
    added = await api.call(
        "acme_admin",
        "POST",
        f"/campaigns/{created['id']}/recipients",
        content=f"email,name\n{ADA},Ada\n",
        headers={"content-type": "text/csv"},
    )
    assert (added.json()["added"], added.json()["erased"]) == (0, 1)
    later = await sending_campaign(
        api.database,
        settings,
        [ADA, "bob@example.com"],
        organization_id=await organization_id(api.database, "acme"),
        name="After",
    )
    await worker(api.database, settings).run_burst()
    assert await rows(api, deliveries, deliveries.c.email == ADA) == []
    assert [
        row["email"] for row in await rows(api, deliveries, deliveries.c.campaign_id == later)
    ] == ["bob@example.com"]
    assert len(messages_to(settings, ADA)) == 1

    clicked = await api.client.post(
        unsubscribe_path(before),
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert clicked.status_code == 200
    assert await suppressed(api.database) == {}
    listed = await api.call("acme_admin", "POST", "/suppressions", json={"emails": [ADA]})
    assert (listed.json()["added"], listed.json()["unchanged"]) == (0, 1)
    assert await suppressed(api.database) == {}

    theirs = await api.call(
        "globex_admin", "POST", "/contacts", json={"contacts": [{"email": ADA}]}
    )
    assert theirs.json()["created"] == 1

    made = await api.call(
        "acme_admin",
        "POST",
        "/lists",
        json={"name": "News", "visibility": "public", "optIn": "single"},
    )
    assert made.status_code == 201, made.text
    joined = await api.call(
        "acme_admin", "POST", "/lists/News/members", json={"emails": [ADA, "erin@example.com"]}
    )
    assert (joined.json()["erased"], joined.json()["added"]) == (1, 1)
    form = await api.client.post("/subscribe/acme", json={"email": ADA, "lists": ["News"]})
    assert form.status_code == 202, form.text
    assert ADA not in await contact_statuses(api.database)


async def test_another_organization_can_neither_export_nor_erase_it(
    api: Api, settings: Settings
) -> None:
    await history_of_ada(api, settings)
    export = await api.call("globex_admin", "GET", f"/contacts/{ADA}/export")
    assert export.status_code == 200
    document = export.json()
    assert (document["organization"], document["contact"], document["suppression"]) == (
        "globex",
        None,
        None,
    )
    assert document["deliveries"] == document["lists"] == document["cooldown"] == []
    assert document["auditLog"] == []
    erased = await api.call("globex_admin", "POST", f"/contacts/{ADA}/erase")
    assert erased.status_code == 200
    assert (erased.json()["contact"], erased.json()["deliveries"]) == (0, 0)
    assert (await contact_statuses(api.database))[ADA] == "blocklisted"
    assert await rows(api, deliveries, deliveries.c.email == ADA) != []
    async with api.database.connection() as connection:
        names = (await connection.execute(select(campaigns.c.name))).scalars().all()
    assert "Winter Event" in names
    upserted = await api.call(
        "acme_admin",
        "POST",
        "/contacts",
        json={"contacts": [{"email": ADA, "attributes": {"plan": "free"}}]},
    )
    assert (upserted.json()["updated"], upserted.json()["erased"]) == (1, 0)


async def stored_mentions(database: Database, email: str) -> list[str]:
    """Every row of every table that holds ``email`` in any column (any case), but the
    entries of the global cooldown scope: they keep the instance-wide promise to the person
    and stay by design (docs/audience.md)."""
    found = []
    async with database.connection() as connection:
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).mappings():
                if table.name in ("cooldown_ledger", "ledger_entries") and (
                    row["scope"] == GLOBAL_SCOPE
                ):
                    continue
                text = json.dumps(dict(row), default=str).lower()
                if email in text:
                    found.append(f"{table.name}: {dict(row)}")
    return found


async def test_after_erasure_no_table_holds_the_address(api: Api, settings: Settings) -> None:
    hooks = webhook_settings(settings)
    async with receivers() as [receiver]:
        await add_endpoint(api.database, hooks, receiver.url, event_types=EVENT_TYPES)
        upserted = await api.call(
            "acme_admin",
            "POST",
            "/contacts",
            json={"contacts": [{"email": ADA, "attributes": {"first_name": "Ada"}}]},
        )
        assert upserted.status_code == 200
        await add_to_list(api, "acme", ADA, "Newsletter")
        sent = await send_campaign(
            api.database, settings, [(ADA, {"name": "Ada"}), "bob@example.com"], name="Winter"
        )
        async with api.database.transaction() as connection:
            await save_links(connection, sent, ["https://shop.example/spring"])
        [ada_delivery] = await rows(
            api, deliveries, deliveries.c.campaign_id == sent, deliveries.c.email == ADA
        )
        tokens = tracking_tokens(await instance_secret(api.database, SECRET_NAME))
        sent_at = int(time.time()) - 3600
        tracker = Tracker(api.database)
        await tracker.click(
            tokens.click(sent, int(ada_delivery["id"]), 0, sent_at),
            user_agent=BROWSER,
            address="198.51.100.7",
        )
        await tracker.open(
            tokens.open(sent, int(ada_delivery["id"]), sent_at), user_agent=BROWSER, address=None
        )
        await dispatcher(api.database, hooks, Clock()).run_burst()
        delivered = len(receiver.requests)
        assert any(ADA in request.body.decode() for request in receiver.requests)
        # a bounce after that: its webhook message is still pending when the address is erased
        await apply_event(
            api.services,
            FeedbackEvent(
                FeedbackSource.MAILBOX,
                event_id="dsn-1",
                kind=FeedbackKind.HARD_BOUNCE,
                delivery_id=int(ada_delivery["id"]),
                detail=f"550 5.1.1 <{ADA.upper()}>: no such user",
            ),
        )
        assert (await stored_mentions(api.database, ADA)) != []

        response = await api.call("acme_admin", "POST", f"/contacts/{ADA}/erase")
        assert response.status_code == 200, response.text
        placeholder = response.json()["placeholder"]
        assert await stored_mentions(api.database, ADA) == []
        [event] = await rows(api, feedback_events)
        assert (event["email"], event["kind"]) == (placeholder, "hard_bounce")
        assert event["detail"] == f"550 5.1.1 <{placeholder}>: no such user"
        report = (await api.call("acme_admin", "GET", f"/campaigns/{sent}/report")).json()
        assert (report["engagement"]["uniqueClicks"], report["engagement"]["uniqueOpens"]) == (1, 1)

        # the pending message is still delivered, with the placeholder for the address
        await dispatcher(api.database, hooks, Clock()).run_burst()
        [bounced] = [json.loads(request.body) for request in receiver.requests[delivered:]]
        assert bounced["type"] == "bounced"
        assert bounced["data"]["email"] == placeholder
        assert bounced["data"]["reason"] == f"550 5.1.1 <{placeholder}>: no such user"
    assert "bob@example.com" in " ".join(await stored_mentions(api.database, "bob@example.com"))
