"""What PostgreSQL itself spends to store a delivery row: its key check and its indexes.

No client work to speak of: N prebuilt rows (address, variables, campaign, status), the
text ``COPY`` receives, are copied into an empty table shaped like ``deliveries`` (``CREATE
TABLE ... (LIKE deliveries INCLUDING ALL)``) in one transaction, in three shapes, taking
turns ``--rounds`` times:

- ``declared key``: the indexes of ``deliveries`` and a foreign key from ``campaign_id`` to
  the campaign, as before migration 0021 (one look-up and lock of the campaign row a row);
- ``due index on every row``: no foreign key, and ``ix_deliveries_due`` holding every row,
  as before migration 0022 (now only the rows with a due instant, which these have not);
- ``as stored``: the indexes of ``deliveries`` as they are now, no foreign key;
- ``keys only``: the primary key and the unique ``(campaign_id, email)`` alone, no
  secondary index: the least the import could write.

    python -m benchmarks.delivery_keys                         # 1,000,000 rows, 2 rounds
    python -m benchmarks.delivery_keys --rows 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import psycopg
from rich.console import Console

from benchmarks.common import add_postgres_option, postgres_database, required_postgres

console = Console()
TRIAL = "delivery_trial"


def prebuilt_rows(count: int, campaign_id: int) -> bytes:
    """``COPY`` text: address, variables (JSON), campaign, status, attempts."""
    return "".join(
        f'person{number}@example.org\t{{"first_name": "Person {number}", "city": "Berlin"}}'
        f"\t{campaign_id}\tqueued\t0\n"
        for number in range(1, count + 1)
    ).encode()


def _declared_key(connection: psycopg.Connection) -> None:
    connection.execute(
        f"ALTER TABLE {TRIAL} ADD FOREIGN KEY (campaign_id) REFERENCES campaigns (id) "
        "ON DELETE CASCADE"
    )


def _due_index_on_every_row(connection: psycopg.Connection) -> None:
    due = connection.execute(
        "SELECT index.relname FROM pg_index JOIN pg_class index ON index.oid = indexrelid "
        "WHERE indrelid = %s::regclass AND indpred IS NOT NULL "
        "AND pg_get_expr(indpred, indrelid) LIKE '%%due_at%%'",
        (TRIAL,),
    ).fetchall()
    for (name,) in due:
        connection.execute(f'DROP INDEX "{name}"')
    connection.execute(f"CREATE INDEX ON {TRIAL} (campaign_id, status, due_at)")


def _keys_only(connection: psycopg.Connection) -> None:
    secondary = connection.execute(
        "SELECT index.relname FROM pg_index JOIN pg_class index ON index.oid = indexrelid "
        "WHERE indrelid = %s::regclass AND NOT indisunique",
        (TRIAL,),
    ).fetchall()
    for (name,) in secondary:
        connection.execute(f'DROP INDEX "{name}"')


SHAPES: dict[str, Callable[[psycopg.Connection], None]] = {
    "declared key": _declared_key,
    "due index on every row": _due_index_on_every_row,
    "as stored": lambda _connection: None,
    "keys only": _keys_only,
}


def copy_seconds(url: str, shape: str, rows: bytes, campaign_id: int) -> float:
    """Seconds to ``COPY`` ``rows`` into a new table of ``shape``, committed."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {TRIAL}")
        connection.execute(f"CREATE TABLE {TRIAL} (LIKE deliveries INCLUDING ALL)")
        SHAPES[shape](connection)
        connection.execute("CHECKPOINT")
        started = time.perf_counter()
        with (
            connection.transaction(),
            connection.cursor().copy(
                f"COPY {TRIAL} (email, variables, campaign_id, status, attempts) FROM STDIN"
            ) as copy,
        ):
            step = 4_000_000
            for first in range(0, len(rows), step):
                copy.write(rows[first : first + step])
        seconds = time.perf_counter() - started
        connection.execute(f"DROP TABLE {TRIAL}")
    return seconds


def a_campaign(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as connection:
        organization = connection.execute(
            "INSERT INTO organizations (slug, name, created_at) VALUES ('bench', 'Bench', now()) "
            "RETURNING id"
        ).fetchone()
        assert organization is not None
        campaign = connection.execute(
            "INSERT INTO campaigns (organization_id, name, subject, text_body, status, "
            "consecutive_errors, created_at, updated_at, created_by) "
            "VALUES (%s, 'Trial', 'Hi', 'Hello', 'draft', 0, now(), now(), 'bench') RETURNING id",
            (organization[0],),
        ).fetchone()
        assert campaign is not None
        return int(campaign[0])


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    add_postgres_option(parser)
    options = parser.parse_args(arguments)
    base = required_postgres(parser, options.postgres)
    with postgres_database(base) as url:
        campaign_id = a_campaign(url)
        rows = prebuilt_rows(options.rows, campaign_id)
        seconds: dict[str, list[float]] = {shape: [] for shape in SHAPES}
        for _ in range(max(1, options.rounds)):
            for shape in SHAPES:
                seconds[shape].append(copy_seconds(url, shape, rows, campaign_id))
    console.print(f"PostgreSQL, COPY of {options.rows:,} prebuilt delivery rows, one transaction:")
    for shape, measured in seconds.items():
        rates = ", ".join(f"{options.rows / value:,.0f}" for value in measured)
        console.print(f"  {shape}: {rates} rows/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
