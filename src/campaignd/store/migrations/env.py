"""Alembic environment: one history for SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event, pool

from campaignd.store.database import configure_sqlite, is_sqlite, sync_url
from campaignd.store.schema import metadata

url = context.config.get_main_option("sqlalchemy.url") or ""
engine = create_engine(sync_url(url), poolclass=pool.NullPool)
if is_sqlite(url):
    event.listen(engine, "connect", lambda connection, _record: configure_sqlite(connection))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=is_sqlite(url),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
