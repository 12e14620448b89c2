"""Apply migrations (Alembic) and tell whether a database has its schema yet."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, pool

from campaignd.store.database import create_private_sqlite_file, sync_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    create_private_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)


def has_schema(url: str) -> bool:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table("campaigns")
    finally:
        engine.dispose()
