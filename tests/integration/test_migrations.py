"""Migrations produce exactly the declared schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, pool, text

from campaignd.store.campaigns import delivery_counts
from campaignd.store.database import Database, sync_url
from campaignd.store.migrate import alembic_config, upgrade
from campaignd.store.queue import claim_batch
from campaignd.store.schema import metadata

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def _index_definitions(connection: Connection, schema: str) -> dict[str, str]:
    """Each index's name and definition in ``schema``, the schema's name taken out, quotes and
    spacing made uniform (so the conditions of partial indexes are compared too, which
    ``compare_metadata`` does not)."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text(
                f"SELECT name, sql FROM {schema}.sqlite_master"
                " WHERE type = 'index' AND sql IS NOT NULL"
            )
        ).all()
    else:
        rows = connection.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :schema"),
            {"schema": schema},
        ).all()
    return {
        str(name): " ".join(
            str(definition).replace(f"{schema}.", "").replace('"', "").lower().split()
        )
        for name, definition in rows
        if not str(name).startswith("alembic_version")
    }


def test_migrated_indexes_match_the_declared_ones_conditions_included(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text(f"ATTACH DATABASE '{tmp_path / 'declared.db'}' AS declared"))
            migrated = "main"
        else:
            connection.execute(text("CREATE SCHEMA declared"))
            migrated = "public"
        metadata.create_all(connection.execution_options(schema_translate_map={None: "declared"}))
        declared = _index_definitions(connection, "declared")
        found = _index_definitions(connection, migrated)
    engine.dispose()
    due = declared["ix_deliveries_due"].replace("(", "").replace(")", "")
    assert due.endswith("where due_at is not null")
    assert found == declared


def test_deliveries_queued_before_the_upgrade_are_still_claimed(database_url: str) -> None:
    """Rows the first version stored ``queued`` (0002 renamed them ``pending``, 0004 back to
    ``queued``) are shown queued and claimed after the upgrade."""
    command.downgrade(alembic_config(database_url), "0001")
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO organizations (slug, name, created_at) VALUES ('a', 'A', :now)"),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO campaigns (organization_id, name, subject, text_body, status,"
                " started_at, fanned_out_at, consecutive_errors, created_at, updated_at,"
                " created_by) SELECT id, 'Winter', 'Hi', 'Hello', 'sending', :now, :now, 0,"
                " :now, :now, 'test' FROM organizations"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (campaign_id, email, status, attempts)"
                " SELECT id, 'a@x.org', 'queued', 0 FROM campaigns"
            )
        )
    upgrade(database_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT status FROM deliveries")).scalar_one()
    engine.dispose()
    assert stored == "queued"

    async def claim() -> tuple[dict[str, int], int]:
        database = Database(database_url)
        try:
            async with database.transaction() as connection:
                campaign_id = int(
                    (await connection.execute(text("SELECT id FROM campaigns"))).scalar_one()
                )
                counts = (await delivery_counts(connection, [campaign_id]))[campaign_id]
                claimed = await claim_batch(
                    connection, campaign_id, owner="w", limit=10, now=NOW, lease_seconds=60
                )
            return counts, len(claimed)
        finally:
            await database.dispose()

    assert asyncio.run(claim()) == ({"queued": 1}, 1)
