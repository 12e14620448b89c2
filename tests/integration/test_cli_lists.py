"""``campaignd list ...`` against real databases, and in a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from campaignd.store.schema import audit_log, contacts, list_members, lists
from tests.integration.test_cli_campaigns import engine, ok, refused

__all__ = ["engine"]


def members(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(contacts.c.email, list_members.c.status).select_from(list_members.join(contacts))
        ).all()
    return {email: status for email, status in rows}


def list_names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(lists.c.name)).scalars())


def test_create_show_update_delete(engine: Engine) -> None:
    ok("org", "create", "acme")
    created = ok("list", "create", "Weekly news", "--org", "acme", "--visibility", "public")
    assert created.stdout.strip() == (
        "created in acme: Weekly news: public, double opt-in; "
        "0 confirmed, 0 unconfirmed, 0 unsubscribed"
    )
    ok("list", "create", "Staff", "--org", "acme", "--opt-in", "single", "--description", "Us")
    table = ok("list", "show", "--org", "acme").stdout
    assert "Weekly news" in table and "Staff" in table and "Us" in table
    one = json.loads(ok("list", "show", "Weekly news", "--org", "acme", "--json").stdout)
    assert (one["name"], one["visibility"], one["optIn"]) == ("Weekly news", "public", "double")
    assert one["members"] == {"unconfirmed": 0, "confirmed": 0, "unsubscribed": 0}

    updated = ok("list", "update", "Staff", "--org", "acme", "--name", "Team", "--description", "")
    assert updated.stdout.startswith("updated in acme: Team: private, single opt-in")
    ok("list", "delete", "Team", "--org", "acme")
    assert list_names(engine) == ["Weekly news"]
    with engine.connect() as connection:
        actions = set(connection.execute(select(audit_log.c.action)).scalars())
    assert {"list.create", "list.update", "list.delete"} <= actions


def test_refusals_say_what_is_wrong_and_change_nothing(engine: Engine) -> None:
    ok("org", "create", "acme")
    ok("list", "create", "News", "--org", "acme")
    assert "already has a list named 'News'" in refused("list", "create", "News", "--org", "acme")
    assert "'form' is reserved" in refused("list", "create", "form", "--org", "acme")
    assert "--visibility" in refused(
        "list", "create", "X", "--org", "acme", "--visibility", "secret"
    )
    assert "no list 'Nope' in acme" in refused("list", "show", "Nope", "--org", "acme")
    assert "no organization 'nobody'" in refused("list", "show", "--org", "nobody")
    assert "nothing to change" in refused("list", "update", "News", "--org", "acme")
    assert "'not-an-address' is not a valid address" in refused(
        "list", "add", "News", "ok@example.com", "not-an-address", "--org", "acme"
    )
    assert "no addresses" in refused("list", "add", "News", "--org", "acme")
    assert list_names(engine) == ["News"] and members(engine) == {}


def test_add_from_a_file_list_members_remove(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    ok("list", "create", "News", "--org", "acme")
    people = tmp_path / "people.csv"
    people.write_text(
        "first_name,email\nAda,Ada@Example.com\nGrace,grace@example.org\n\nAda,ada@example.com\n",
        encoding="utf-8",
    )
    added = ok("list", "add", "News", "alan@example.net", "--org", "acme", "--from", str(people))
    assert added.stdout.strip() == (
        "News in acme: added 3, updated 0, unchanged 0 (3 new contacts)"
    )
    pending = ok(
        "list", "add", "News", "grace@example.org", "--org", "acme", "--status", "unconfirmed"
    )
    assert "updated 1" in pending.stdout
    assert members(engine) == {
        "ada@example.com": "confirmed",
        "alan@example.net": "confirmed",
        "grace@example.org": "unconfirmed",
    }
    listing = json.loads(
        ok("list", "members", "News", "--org", "acme", "--status", "confirmed", "--json").stdout
    )
    assert [row["email"] for row in listing["members"]] == ["ada@example.com", "alan@example.net"]
    assert listing["more"] is False

    bad = tmp_path / "bad.txt"
    bad.write_text("ok@example.com\n# a comment\nnot-an-address\n", encoding="utf-8")
    assert "bad.txt, line 3: 'not-an-address'" in refused(
        "list", "add", "News", "--org", "acme", "--from", str(bad)
    )
    removed = ok("list", "remove", "News", "ada@example.com", "x@example.com", "--org", "acme")
    assert removed.stdout.strip() == "News in acme: removed 1, 1 were not members"
    assert set(members(engine)) == {"alan@example.net", "grace@example.org"}


def piped(*arguments: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``campaignd ARGUMENTS`` in a child process, its stdin and stdout pipes."""
    return subprocess.run(
        [sys.executable, "-m", "campaignd", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="60"),
        timeout=60,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_in_a_pipe(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    long_name = "Weekly news about everything that happens " * 2
    ok("list", "create", long_name.strip(), "--org", "acme", "--visibility", "public")
    name = long_name.strip()
    addresses = "".join(f"person{number}@example.com\n" for number in range(12_000))
    added = piped("list", "add", name, "--org", "acme", "--from", "-", stdin=addresses)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == (
        f"{name} in acme: added 12000, updated 0, unchanged 0 (12000 new contacts)"
    )
    assert len(members(engine)) == 12_000

    shown = piped("list", "show", "--org", "acme")
    assert shown.returncode == 0, shown.stderr
    assert any(name in line and "12000" in line for line in shown.stdout.splitlines())
    listing = piped("list", "members", name, "--org", "acme", "--limit", "5")
    assert listing.stdout.count("@example.com") == 5 and "raise --limit" in listing.stdout

    form = piped("list", "form", "--org", "acme")
    assert form.returncode == 0, form.stderr
    assert form.stdout.startswith(
        '<form method="post" action="http://127.0.0.1:8000/subscribe/acme"'
    )
    assert f'name="lists" value="{name}"' in form.stdout and form.stdout.endswith("</form>\n")
