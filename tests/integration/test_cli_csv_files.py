"""Recipient CSV files through ``campaignd`` run as a program: separators and header words."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

import campaignd
from campaignd.store.campaigns import delete_campaign
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, deliveries
from tests.integration.test_cli_campaigns import count, engine, new_campaign, ok

__all__ = ["engine"]

SOURCE = str(Path(campaignd.__file__).resolve().parents[1])

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""The reading of the file does not depend on the database: child processes are slow."""


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``campaignd ARGUMENTS`` as a child process running this checkout's code."""
    env = dict(os.environ, PYTHONPATH=SOURCE, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "campaignd", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


@SQLITE_ONLY
def test_import_reads_every_chunk_of_a_semicolon_file_with_semicolons(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path)
    lines = [" EMAIL ;First Name;Note"] + [
        f"person{number}@example.com;P{number};a,b,c" for number in range(5)
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    result = run("campaign", "import", str(campaign_id), str(path), "--chunk-rows", "2")
    assert result.returncode == 0, result.stderr
    assert "added 5, duplicates 0, invalid 0" in result.stdout
    assert 'export.csv: read as separated by ";"' in one_line(result.stderr)
    with engine.connect() as connection:
        last = connection.execute(
            select(deliveries.c.variables).where(deliveries.c.email == "person4@example.com")
        ).scalar_one()
    assert last == {"first name": "P4", "note": "a,b,c"}


@SQLITE_ONLY
def test_a_header_without_email_is_refused_in_words_and_creates_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    (tmp_path / "people.csv").write_text(
        "Email Address;Vorname\nada@example.com;Ada\n", encoding="utf-8"
    )
    (tmp_path / "winter.yaml").write_text(
        "name: Winter Event\nsubject: Hello\ntextBody: Hi\norganization: acme\n"
        "recipients: people.csv\n",
        encoding="utf-8",
    )
    result = run("campaign", "create", "--from", str(tmp_path / "winter.yaml"))
    assert result.returncode != 0
    assert (
        'people.csv: no "email" column: the header is "Email Address; Vorname" (separated by '
        '";"); rename "Email Address" to "email"'
    ) in one_line(result.stderr)
    assert result.stdout == ""
    assert count(engine, campaigns) == 0

    campaign_id = new_campaign(tmp_path)
    (tmp_path / "twice.csv").write_text("email,Name,name\nada@example.com,A,B\n")
    refused = run("campaign", "import", str(campaign_id), str(tmp_path / "twice.csv"))
    assert refused.returncode != 0
    assert 'the header repeats a column name: "name" is columns 2 and 3' in one_line(refused.stderr)
    assert count(engine, deliveries) == 0


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_broken_line_later_in_the_file_keeps_the_chunks_before_it(
    engine: Engine, tmp_path: Path
) -> None:
    """The next chunk is read while the one before is stored: a problem in it still stops
    the import after the earlier chunks are stored, and names its line."""
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path)
    lines = ["email,first_name"] + [f"person{number}@example.com,P{number}" for number in range(6)]
    lines.append('person6@example.com,"never closed')
    path = tmp_path / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("campaign", "import", str(campaign_id), str(path), "--chunk-rows", "2")
    assert result.returncode != 0
    assert "line 8: a quoted field opens here and is never closed" in one_line(result.stderr)
    assert "(the rows before it were imported)" in one_line(result.stderr)
    assert count(engine, deliveries, deliveries.c.campaign_id == campaign_id) == 6


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_recipients_keep_the_order_of_the_file(engine: Engine, tmp_path: Path) -> None:
    """The deliveries' ids are the order of sending and of the campaign's pages: the file's,
    not the addresses' alphabetical order."""
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path)
    names = ["zed", "mia", "amy", "kim"]
    path = tmp_path / "people.csv"
    path.write_text(
        "email\n" + "".join(f"{name}@example.com\n" for name in names), encoding="utf-8"
    )
    result = run("campaign", "import", str(campaign_id), str(path))
    assert result.returncode == 0, result.stderr
    with engine.connect() as connection:
        stored = connection.execute(
            select(deliveries.c.email)
            .where(deliveries.c.campaign_id == campaign_id)
            .order_by(deliveries.c.id)
        ).scalars()
        assert [email.split("@")[0] for email in stored] == names


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_an_address_from_an_earlier_chunk_or_import_is_counted_once(
    engine: Engine, tmp_path: Path
) -> None:
    """A chunk that repeats an address stored before still stores the rest of its rows, in
    the file's order (on PostgreSQL its ``COPY`` straight into the campaign is refused and
    undone, and the chunk is stored the careful way); importing the file again adds none."""
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path)
    names = ["ann", "bob", "cat", "dan", "ann", "eve", "fay"]
    path = tmp_path / "people.csv"
    path.write_text(
        "email,n\n" + "".join(f"{name}@example.com,{n}\n" for n, name in enumerate(names)),
        encoding="utf-8",
    )
    first = run("campaign", "import", str(campaign_id), str(path), "--chunk-rows", "3")
    assert first.returncode == 0, first.stderr
    assert "added 6, duplicates 1, invalid 0" in first.stdout
    again = run("campaign", "import", str(campaign_id), str(path), "--chunk-rows", "3")
    assert again.returncode == 0, again.stderr
    assert "added 0, duplicates 7, invalid 0" in again.stdout
    with engine.connect() as connection:
        stored = connection.execute(
            select(deliveries.c.email, deliveries.c.variables)
            .where(deliveries.c.campaign_id == campaign_id)
            .order_by(deliveries.c.id)
        ).all()
    assert [(email.split("@")[0], variables["n"]) for email, variables in stored] == [
        ("ann", "0"),
        ("bob", "1"),
        ("cat", "2"),
        ("dan", "3"),
        ("eve", "5"),
        ("fay", "6"),
    ]


def test_a_draft_deleted_while_its_file_is_imported_leaves_no_recipient_behind(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Deliveries hold no declared key to their campaign: deleting a draft deletes its
    recipients, and it waits for the chunk being stored, so none is left behind. The racers
    overlap: the import is still running when the delete lands, and its next chunk is
    refused."""
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path)
    path = tmp_path / "people.csv"
    path.write_text(
        "email,n\n" + "".join(f"person{n}@example.com,{n}\n" for n in range(100_000)),
        encoding="utf-8",
    )
    env = dict(os.environ, PYTHONPATH=SOURCE, COLUMNS="200")
    command = ["campaign", "import", str(campaign_id), str(path), "--chunk-rows", "500"]
    importing = subprocess.Popen(
        [sys.executable, "-m", "campaignd", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        stored = 0
        while stored == 0 and importing.poll() is None:
            stored = count(engine, deliveries, deliveries.c.campaign_id == campaign_id)
        assert importing.poll() is None, "the import ended before the delete"

        async def delete_draft() -> bool:
            database = Database(database_url)
            try:
                async with database.transaction() as connection:
                    return await delete_campaign(connection, campaign_id)
            finally:
                await database.dispose()

        assert asyncio.run(delete_draft())
        _, errors = importing.communicate(timeout=60)
    finally:
        importing.kill()
    assert importing.returncode != 0
    assert f"campaign {campaign_id}" in one_line(errors)
    assert count(engine, deliveries, deliveries.c.campaign_id == campaign_id) == 0
    assert count(engine, campaigns, campaigns.c.id == campaign_id) == 0
