"""``campaignd webhook`` against real databases: add, list, attempts, replay, disable,
enable, remove; refusals name the field and change nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import Engine

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.organizations import organization_by_slug
from campaignd.store.schema import webhook_endpoints
from tests.integration.test_cli_campaigns import count, engine, ok, refused
from tests.integration.webhook_support import Clock, dispatcher, record

__all__ = ["engine"]

UNREACHABLE = "http://127.0.0.1:1/hooks"


@pytest.fixture(autouse=True)
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGND_WEBHOOK_ALLOW_LOOPBACK", "true")


def deliver_one_event(database_url: str) -> None:
    async def main() -> None:
        database = Database(database_url)
        try:
            async with database.connection() as connection:
                acme = await organization_by_slug(connection, "acme")
            assert acme is not None
            await record(database, int(acme["id"]), "unsubscribed", email="ada@example.com")
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=database_url,
                webhook_allow_loopback=True,
                webhook_timeout=2.0,
            )
            await dispatcher(database, settings, Clock()).run_burst()
        finally:
            await database.dispose()

    asyncio.run(main())


def test_add_list_attempts_replay_and_remove(engine: Engine, database_url: str) -> None:
    ok("org", "create", "acme")
    ok("org", "create", "globex")
    added = ok(
        "webhook", "add", "--org", "acme", "--url", UNREACHABLE, "--events", "unsubscribed,sent"
    )
    lines = dict(line.split(":", 1) for line in added.stdout.strip().splitlines())
    endpoint_id, secret = lines["id"].strip(), lines["secret"].strip()
    assert secret.startswith("whsec_")
    assert "will not be shown again" in added.stderr

    listing = json.loads(ok("webhook", "list", "--org", "acme", "--json").stdout)
    [item] = listing["webhooks"]
    assert (str(item["id"]), item["eventTypes"], item["enabled"]) == (
        endpoint_id,
        ["sent", "unsubscribed"],
        True,
    )
    assert secret not in json.dumps(listing)
    assert "no webhook endpoints" in ok("webhook", "list", "--org", "globex").stdout

    deliver_one_event(database_url)
    shown = json.loads(ok("webhook", "attempts", endpoint_id, "--org", "acme", "--json").stdout)
    [attempt] = shown["attempts"]
    assert attempt["statusCode"] is None and attempt["error"]
    [message] = shown["messages"]
    assert message["status"] == "pending" and message["attempts"] == 1

    replayed = ok("webhook", "replay", endpoint_id, message["messageId"], "--org", "acme")
    assert message["messageId"] in replayed.stdout
    assert "no webhook endpoint" in refused("webhook", "attempts", endpoint_id, "--org", "globex")

    ok("webhook", "disable", endpoint_id, "--org", "acme")
    assert "enable it first" in refused(
        "webhook", "replay", endpoint_id, message["messageId"], "--org", "acme"
    )
    ok("webhook", "enable", endpoint_id, "--org", "acme")
    assert (
        "removed webhook endpoint" in ok("webhook", "remove", endpoint_id, "--org", "acme").stdout
    )
    assert count(engine, webhook_endpoints) == 0


def test_refusals_name_the_field_and_change_nothing(engine: Engine) -> None:
    ok("org", "create", "acme")
    assert "url" in refused(
        "webhook", "add", "--org", "acme", "--url", "https://10.0.0.1/x", "--events", "sent"
    )
    assert "eventTypes" in refused(
        "webhook", "add", "--org", "acme", "--url", UNREACHABLE, "--events", "sent,opens"
    )
    assert count(engine, webhook_endpoints) == 0


def test_an_id_beyond_64_bits_is_unknown(engine: Engine) -> None:
    ok("org", "create", "acme")
    assert "no webhook endpoint" in refused("webhook", "remove", str(2**70), "--org", "acme")
