"""Which database the CLI uses: named when something is not found, never created by accident."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from campaignd.cli import app
from campaignd.store.migrate import newest_revision

READING = [
    ["org", "list"],
    ["token", "list"],
    ["token", "revoke", "1"],
    ["campaign", "list"],
    ["campaign", "status", "1"],
    ["campaign", "preview", "1"],
    ["campaign", "execute", "1"],
    ["suppress", "list", "--org", "acme"],
    ["suppress", "add", "a@example.com", "--org", "acme"],
    ["runs"],
    ["token", "create", "--role", "viewer", "--org", "acme"],
]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder without a database, with no CAMPAIGND_* variables set."""
    for name in list(os.environ):
        if name.startswith("CAMPAIGND_") and not name.startswith("CAMPAIGND_TEST_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(app, list(arguments))


def one_line(result: Result) -> str:
    return " ".join(result.output.split())


@pytest.mark.parametrize("arguments", READING, ids=" ".join)
def test_a_command_on_existing_things_never_creates_a_database(
    elsewhere: Path, arguments: list[str]
) -> None:
    result = invoke(*arguments)
    assert result.exit_code == 1, result.output
    message = one_line(result)
    assert f"no database at {elsewhere / 'campaignd.db'}" in message
    assert "CAMPAIGND_DATABASE_URL" in message and "sqlite:///./campaignd.db" in message
    assert list(elsewhere.iterdir()) == []


def test_a_set_url_to_a_missing_file_is_named(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGND_DATABASE_URL", "sqlite:///data/typo.db")
    message = one_line(invoke("campaign", "list"))
    assert f"no database at {elsewhere / 'data' / 'typo.db'}" in message
    assert "CAMPAIGND_DATABASE_URL=sqlite:///data/typo.db" in message
    assert list(elsewhere.iterdir()) == []


def test_not_found_names_the_database_looked_in(elsewhere: Path) -> None:
    assert invoke("org", "create", "acme").exit_code == 0  # creates ./campaignd.db
    where = f"in sqlite:///./campaignd.db ({elsewhere / 'campaignd.db'})"
    assert f"no organization 'nobody' {where}" in one_line(
        invoke("suppress", "add", "a@example.com", "--org", "nobody")
    )
    assert f"campaign 7 not found {where}" in one_line(invoke("campaign", "status", "7"))
    assert f"no live token with id 9 {where}" in one_line(invoke("token", "revoke", "9"))
    missing_org = one_line(invoke("token", "create", "--role", "viewer", "--org", "nobody"))
    assert f"no organization 'nobody' {where}" in missing_org
    assert "campaignd org create nobody" in missing_org


def test_a_postgresql_password_is_never_shown(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CAMPAIGND_DATABASE_URL", "postgresql://someone:s3cret@127.0.0.1:1/campaignd"
    )
    result = invoke("campaign", "list")
    assert result.exit_code == 1
    message = one_line(result)
    assert "cannot open the database postgresql://someone:***@127.0.0.1:1/campaignd" in message
    assert "s3cret" not in message and "Traceback" not in result.output


def test_db_upgrade_prints_the_revision_reached(elsewhere: Path) -> None:
    newest = newest_revision()
    assert newest is not None and newest != "head"
    first = invoke("db", "upgrade", "--revision", "0002")
    assert first.exit_code == 0, first.output
    assert "upgraded from revision (empty) to 0002" in one_line(first)
    second = one_line(invoke("db", "upgrade"))
    assert f"upgraded from revision 0002 to {newest} (the newest)" in second
    assert "head" not in second
    again = one_line(invoke("db", "upgrade"))
    assert f"is at revision {newest} (the newest); nothing to do" in again
    wrong = invoke("db", "upgrade", "--revision", "nope")
    assert wrong.exit_code == 1 and "no migration 'nope'" in one_line(wrong)
    assert (elsewhere / "campaignd.db").stat().st_mode & 0o077 == 0


def test_what_the_user_typed_is_shown_as_typed(elsewhere: Path) -> None:
    assert invoke("org", "create", "acme").exit_code == 0
    message = one_line(invoke("suppress", "list", "--org", "[bold]x[/bold]"))
    assert "no organization '[bold]x[/bold]'" in message
