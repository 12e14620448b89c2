"""Apply migrations (Alembic) and tell whether a database has its schema yet."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, inspect, pool

from campaignd.store.database import create_private_sqlite_file, sqlite_path, sync_url

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


def current_revision(url: str) -> str | None:
    """The revision the database is at (None before the first migration, or when its
    SQLite file does not exist yet: it is not created here)."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def newest_revision() -> str | None:
    """The revision ``head`` names: the newest migration of this version of campaignd."""
    return scripts().get_current_head()


def known_revision(revision: str) -> bool:
    """Whether ``revision`` names a migration (``head`` included)."""
    try:
        return scripts().get_revision(revision) is not None
    except CommandError:
        return False
