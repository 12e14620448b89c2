"""``campaignd suppress`` and ``campaignd runs`` against real databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from campaignd.store.schema import audit_log, suppressions
from tests.integration.test_cli_campaigns import engine, new_campaign, ok, refused

__all__ = ["engine"]


def suppressed(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(select(suppressions.c.email, suppressions.c.reason)).all()
    return {email: reason for email, reason in rows}


def test_add_list_remove(engine: Engine) -> None:
    ok("org", "create", "acme")
    result = ok("suppress", "add", "Ada@Example.COM", "grace@example.org", "--org", "acme")
    assert result.stdout.strip() == "suppressed 2 addresses in acme"
    again = ok("suppress", "add", "ada@example.com", "--org", "acme", "--reason", "bounced")
    assert again.stdout.strip() == "nothing changed in acme: the address was already suppressed"
    mixed = ok("suppress", "add", "ada@example.com", "alan@example.com", "--org", "acme")
    assert mixed.stdout.strip() == "suppressed 1 address in acme; 1 other was already suppressed"
    assert suppressed(engine) == {
        "ada@example.com": "manual",
        "alan@example.com": "manual",
        "grace@example.org": "manual",
    }
    listing = ok("suppress", "list", "--org", "acme").stdout
    assert "ada@example.com" in listing and "grace@example.org" in listing

    removed = ok(
        "suppress",
        "remove",
        "ada@example.com",
        "alan@example.com",
        "x@example.net",
        "--org",
        "acme",
    )
    assert removed.stdout.strip() == (
        "removed 2 addresses from the suppression list of acme; 1 other was not on the list"
    )
    none = ok("suppress", "remove", "a@example.net", "b@example.net", "--org", "acme")
    assert none.stdout.strip() == "nothing changed in acme: the 2 addresses were not on the list"
    assert suppressed(engine) == {"grace@example.org": "manual"}
    with engine.connect() as connection:
        actions = connection.execute(select(audit_log.c.action, audit_log.c.actor)).all()
    assert {action for action, _ in actions} >= {"suppression.add", "suppression.remove"}
    assert all(actor.startswith("cli:") for _, actor in actions)


def test_refusals_change_nothing(engine: Engine) -> None:
    ok("org", "create", "acme")
    assert "'not-an-address' is not a valid address" in refused(
        "suppress", "add", "ok@example.com", "not-an-address", "--org", "acme"
    )
    assert "no organization 'nobody'" in refused(
        "suppress", "add", "a@example.com", "--org", "nobody"
    )
    assert "--reason" in refused(
        "suppress", "add", "a@example.com", "--org", "acme", "--reason", "annoyed"
    )
    assert "--org" in refused("suppress", "list")
    assert suppressed(engine) == {}


def test_runs_lists_every_run_with_trigger_and_actor(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path, recipients=["a@example.com"])
    ok("campaign", "execute", str(campaign_id))
    ok("campaign", "cancel", str(campaign_id))
    table = ok("runs", "--limit", "5").stdout
    assert "manual" in table and "cli:" in table and "cancelled" in table
    assert "Winter Event" in table
    assert "limit" in refused("runs", "--limit", "0").lower()
