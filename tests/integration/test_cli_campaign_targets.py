"""``campaignd campaign create --list/--segment``, the file's ``lists`` and ``segments``,
``campaign target``, and the preview counting list members."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, select

from campaignd.store.columns import utcnow
from campaignd.store.database import sync_url
from campaignd.store.schema import (
    audit_log,
    campaign_lists,
    campaigns,
    contacts,
    deliveries,
    list_members,
    lists,
    organizations,
    segments,
)
from tests.integration.test_cli_campaigns import count, ok, refused


@pytest.fixture
def engine(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The CLI's environment (this database, an outbox in the test's folder) and a handle."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAMPAIGND_DATABASE_URL", database_url)
    monkeypatch.setenv("CAMPAIGND_EMAIL_TRANSPORT", f"file://{tmp_path / 'outbox'}")
    monkeypatch.delenv("CAMPAIGND_REDIS_URL", raising=False)
    handle = create_engine(sync_url(database_url))
    yield handle
    handle.dispose()


def organization_id(engine: Engine, slug: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(organizations.c.id).where(organizations.c.slug == slug)
            ).scalar_one()
        )


def add_list(engine: Engine, slug: str, name: str, members: tuple[str, ...] = ()) -> None:
    """A list of organization ``slug`` whose ``members`` are subscribed, confirmed contacts."""
    now = utcnow()
    owner = organization_id(engine, slug)
    with engine.begin() as connection:
        list_id = connection.execute(
            insert(lists)
            .values(
                organization_id=owner,
                name=name,
                visibility="private",
                opt_in="single",
                created_at=now,
                updated_at=now,
            )
            .returning(lists.c.id)
        ).scalar_one()
        for email in members:
            contact_id = connection.execute(
                insert(contacts)
                .values(
                    organization_id=owner,
                    email=email,
                    attributes={},
                    status="subscribed",
                    created_at=now,
                    updated_at=now,
                )
                .returning(contacts.c.id)
            ).scalar_one()
            connection.execute(
                insert(list_members).values(
                    list_id=list_id,
                    contact_id=contact_id,
                    status="confirmed",
                    created_at=now,
                    updated_at=now,
                )
            )


def add_segment(engine: Engine, slug: str, name: str) -> None:
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            insert(segments).values(
                organization_id=organization_id(engine, slug),
                name=name,
                filter={},
                created_at=now,
                updated_at=now,
            )
        )


def targeted(engine: Engine, campaign_id: int) -> list[str]:
    with engine.connect() as connection:
        return sorted(
            connection.execute(
                select(lists.c.name)
                .select_from(campaign_lists.join(lists))
                .where(campaign_lists.c.campaign_id == campaign_id)
            ).scalars()
        )


def definition(tmp_path: Path, **fields: Any) -> str:
    path = tmp_path / "campaign.json"
    body = {"name": "Winter", "subject": "Hi", "textBody": "Hi", "organization": "acme"}
    path.write_text(json.dumps(body | fields), encoding="utf-8")
    return str(path)


def created_id(*arguments: str) -> int:
    return int(ok("campaign", "create", *arguments).stdout.splitlines()[0])


def test_create_targets_the_files_lists_and_the_options(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    add_list(engine, "acme", "Newsletter", ("ada@example.org", "bob@example.org"))
    add_list(engine, "acme", "Customers", ("cy@example.org",))
    add_segment(engine, "acme", "Active")

    result = ok(
        "campaign",
        "create",
        "--from",
        definition(tmp_path, lists=["Newsletter"]),
        "--list",
        "Customers",
        "--segment",
        "Active",
    )

    campaign_id = int(result.stdout.splitlines()[0])
    assert targeted(engine, campaign_id) == ["Customers", "Newsletter"]
    assert "lists Customers, Newsletter; segments Active" in result.stdout
    shown = json.loads(ok("campaign", "status", str(campaign_id), "--json").stdout)
    assert (shown["lists"], shown["segments"]) == (["Customers", "Newsletter"], ["Active"])
    listing = ok("campaign", "list").stdout
    assert "Customers, Newsletter" in " ".join(listing.split())


def test_create_with_an_unknown_list_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    ok("org", "create", "globex")
    add_list(engine, "acme", "Newsletter")
    add_list(engine, "globex", "Partners")

    for name in ("Nope", "Partners"):
        words = refused(
            "campaign",
            "create",
            "--from",
            definition(tmp_path),
            "--list",
            "Newsletter",
            "--list",
            name,
        )
        assert f"lists: no list named '{name}' in this organization" in words

    assert count(engine, campaigns) == 0
    assert count(engine, audit_log) == 0


def test_a_file_with_lists_that_are_not_names_is_refused(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")

    words = refused("campaign", "create", "--from", definition(tmp_path, lists=[1, 2]))

    assert "lists must be a list of names" in words
    assert count(engine, campaigns) == 0


def test_target_replaces_lists_while_editable(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    add_list(engine, "acme", "Newsletter")
    add_list(engine, "acme", "Customers")
    campaign_id = created_id("--from", definition(tmp_path), "--list", "Newsletter")

    result = ok("campaign", "target", str(campaign_id), "--list", "Customers")
    assert "lists Customers" in result.stdout
    assert targeted(engine, campaign_id) == ["Customers"]

    assert "no list named 'Gone'" in refused(
        "campaign", "target", str(campaign_id), "--list", "Gone"
    )
    assert targeted(engine, campaign_id) == ["Customers"]

    ok("campaign", "target", str(campaign_id), "--no-lists")
    assert targeted(engine, campaign_id) == []

    assert "nothing to change" in refused("campaign", "target", str(campaign_id))
    assert "not both" in refused(
        "campaign", "target", str(campaign_id), "--list", "Customers", "--no-lists"
    )

    ok("campaign", "target", str(campaign_id), "--list", "Customers")
    ok("campaign", "execute", str(campaign_id))
    words = refused("campaign", "target", str(campaign_id), "--list", "Newsletter")
    assert "cannot edit a campaign that is sending" in words
    assert targeted(engine, campaign_id) == ["Customers"]


def test_preview_counts_the_lists_members_and_writes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    add_list(engine, "acme", "Newsletter", ("ada@example.org", "bob@example.org"))
    campaign_id = created_id(
        "--from",
        definition(tmp_path, recipients=["bob@example.org", "zed@example.org"]),
        "--list",
        "Newsletter",
    )

    shown = json.loads(ok("campaign", "preview", str(campaign_id), "--json").stdout)

    assert (shown["totalRecipients"], shown["eligible"], shown["ineligible"]) == (3, 3, 0)
    assert count(engine, deliveries) == 2
