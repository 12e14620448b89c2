"""Helpers shared by the tests: real databases, a migrated template, settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from campaignd.settings import Settings
from campaignd.store.migrate import upgrade

POSTGRES_URL = os.environ.get("CAMPAIGND_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("CAMPAIGND_TEST_REDIS_URL")

_template: str | None = None


def _admin_dsn() -> str:
    assert POSTGRES_URL is not None
    url = make_url(POSTGRES_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(name: str) -> str:
    assert POSTGRES_URL is not None
    url = make_url(POSTGRES_URL).set(database=name, drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _create_database(admin: psycopg.Connection, statement: str) -> None:
    """``CREATE DATABASE`` copies a template, which fails while another session (another
    test process creating its own database) is connected to that template: try again."""
    import time

    for attempt in range(100):
        try:
            admin.execute(statement)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 99:
                raise
            time.sleep(0.05)


def _template_database() -> str:
    """A database migrated once per test session; each test copies it (fast, isolated)."""
    global _template
    if _template is None:
        name = f"campaignd_template_{os.getpid()}"
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            _create_database(admin, f'CREATE DATABASE "{name}"')
        upgrade(_with_database(name))
        _template = name
    return _template


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database with the schema, dropped afterwards."""
    template = _template_database()
    name = f"campaignd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        _create_database(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _with_database(name)
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_template() -> None:
    global _template
    if _template is not None:
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{_template}" WITH (FORCE)')
        _template = None


def settings_for(database_url: str, folder: Path) -> Settings:
    """Settings for one test: its database, an outbox in its folder, no .env."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        email_transport=f"file://{folder / 'outbox'}",
    )


def racing_window(output: str) -> tuple[float, float]:
    """The ``started finished`` wall-clock times a racing process printed first."""
    started, finished = output.strip().splitlines()[0].split()
    return float(started), float(finished)


READY = "ready"
WAIT_FOR_GO = f"import sys\nprint({READY!r}, flush=True)\nsys.stdin.readline()\n"
"""Put in a racing process's script where it is set up and about to race: it says so and
waits for the word to go (``race``)."""


def race(commands: list[list[str]], *, cwd: str, timeout: float = 180) -> list[str]:
    """Start every command, wait until each says it is ready, then let them all go at once;
    returns what each printed after ``ready``. Fails on a non-zero exit."""
    import subprocess

    processes = [
        subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    for process in processes:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line == READY, f"a racer did not get ready: {line!r} {process.stderr}"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = []
    for process in processes:
        output, errors = process.communicate(timeout=timeout)
        assert process.returncode == 0, errors
        outputs.append(output)
    return outputs


def assert_overlapped(windows: list[tuple[float, float]]) -> None:
    """The racers really raced: every one started before any of them finished."""
    latest_start = max(started for started, _ in windows)
    earliest_end = min(finished for _, finished in windows)
    assert latest_start < earliest_end, f"the racers did not overlap: {windows}"


def missing(reason: str) -> None:
    """A test cannot run here: in CI (``CAMPAIGND_REQUIRE_SERVICES``) that is a failure,
    elsewhere a skip."""
    import pytest

    if os.environ.get("CAMPAIGND_REQUIRE_SERVICES"):
        pytest.fail(f"cannot run in CI: {reason}")
    pytest.skip(reason)
