"""``campaignd suppress`` (with CSV import and export) and ``campaignd runs`` against real
databases."""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from campaignd.store.schema import audit_log, organizations, suppressions
from tests.integration.test_cli_campaigns import engine, new_campaign, ok, refused, write_csv

__all__ = ["engine"]


def suppressed(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(select(suppressions.c.email, suppressions.c.reason)).all()
    return {email: reason for email, reason in rows}


def test_add_list_remove(engine: Engine) -> None:
    ok("org", "create", "acme")
    result = ok("suppress", "add", "Ada@Example.COM", "grace@example.org", "--org", "acme")
    assert result.stdout.strip() == "suppressed 2 addresses in acme"
    again = ok("suppress", "add", "ada@example.com", "--org", "acme", "--reason", "bounced")
    assert again.stdout.strip() == "nothing changed in acme: the address was already suppressed"
    mixed = ok("suppress", "add", "ada@example.com", "alan@example.com", "--org", "acme")
    assert mixed.stdout.strip() == "suppressed 1 address in acme; 1 other was already suppressed"
    assert suppressed(engine) == {
        "ada@example.com": "manual",
        "alan@example.com": "manual",
        "grace@example.org": "manual",
    }
    listing = ok("suppress", "list", "--org", "acme").stdout
    assert "ada@example.com" in listing and "grace@example.org" in listing

    removed = ok(
        "suppress",
        "remove",
        "ada@example.com",
        "alan@example.com",
        "x@example.net",
        "--org",
        "acme",
    )
    assert removed.stdout.strip() == (
        "removed 2 addresses from the suppression list of acme; 1 other was not on the list"
    )
    none = ok("suppress", "remove", "a@example.net", "b@example.net", "--org", "acme")
    assert none.stdout.strip() == "nothing changed in acme: the 2 addresses were not on the list"
    assert suppressed(engine) == {"grace@example.org": "manual"}
    with engine.connect() as connection:
        actions = connection.execute(select(audit_log.c.action, audit_log.c.actor)).all()
    assert {action for action, _ in actions} >= {"suppression.add", "suppression.remove"}
    assert all(actor.startswith("cli:") for _, actor in actions)


def test_refusals_change_nothing(engine: Engine) -> None:
    ok("org", "create", "acme")
    assert "'not-an-address' is not a valid address" in refused(
        "suppress", "add", "ok@example.com", "not-an-address", "--org", "acme"
    )
    assert "no organization 'nobody'" in refused(
        "suppress", "add", "a@example.com", "--org", "nobody"
    )
    assert "--reason" in refused(
        "suppress", "add", "a@example.com", "--org", "acme", "--reason", "annoyed"
    )
    assert "--org" in refused("suppress", "list")
    assert suppressed(engine) == {}


def test_runs_lists_every_run_with_trigger_and_actor(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path, recipients=["a@example.com"])
    ok("campaign", "execute", str(campaign_id))
    ok("campaign", "cancel", str(campaign_id))
    table = ok("runs", "--limit", "5").stdout
    assert "manual" in table and "cli:" in table and "cancelled" in table
    assert "Winter Event" in table
    assert "limit" in refused("runs", "--limit", "0").lower()


def suppressed_in(engine: Engine, slug: str) -> dict[str, str]:
    statement = (
        select(suppressions.c.email, suppressions.c.reason)
        .join(organizations, organizations.c.id == suppressions.c.organization_id)
        .where(organizations.c.slug == slug)
    )
    with engine.connect() as connection:
        return {email: reason for email, reason in connection.execute(statement).all()}


def imports(engine: Engine) -> list[dict[str, Any]]:
    statement = select(audit_log.c.detail).where(audit_log.c.action == "suppression.import")
    with engine.connect() as connection:
        return [dict(detail) for (detail,) in connection.execute(statement).all()]


def campaignd(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "campaignd", *arguments]


def test_import_a_file_then_move_the_list_through_a_pipe(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    ok("org", "create", "globex")
    ok("suppress", "add", "ada@example.com", "--org", "acme", "--reason", "complained")
    source = write_csv(
        tmp_path / "old-esp.csv",
        [
            "Email,Reason,First name",
            "ADA@example.com,,Ada",
            "grace@example.org,unsubscribed,Grace",
            "not-an-address,,X",
            "linus@example.net,,Linus",
            "alan@example.net,lost,Alan",
        ],
    )
    result = ok("suppress", "import", str(source), "--org", "acme", "--reason", "bounced")
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "imported old-esp.csv into acme: 2 added, 1 already suppressed, 2 rows skipped"
    )
    assert "rows skipped (first 2 of 2)" in result.stdout
    assert re.search(
        r"4[\s│]+not-an-address[\s│]+An email address must have an @-sign", result.stdout
    )
    assert "reason 'lost' is not one of manual, unsubscribed, bounced, complained" in result.stdout
    assert suppressed_in(engine, "acme") == {
        "ada@example.com": "complained",
        "grace@example.org": "unsubscribed",
        "linus@example.net": "bounced",
    }
    again = json.loads(ok("suppress", "import", str(source), "--org", "acme", "--json").stdout)
    assert (again["organization"], again["added"], again["unchanged"]) == ("acme", 0, 3)
    assert [(item["row"], item["email"]) for item in again["invalid"]] == [
        (4, "not-an-address"),
        (6, "alan@example.net"),
    ]
    assert again["invalidCount"] == 2
    assert [(item["added"], item["invalid_count"]) for item in imports(engine)] == [(2, 2), (0, 2)]

    with subprocess.Popen(
        campaignd("suppress", "export", "--org", "acme"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as exporting:
        assert exporting.stdout is not None
        importing = subprocess.run(
            campaignd("suppress", "import", "-", "--org", "globex"),
            stdin=exporting.stdout,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        exporting.stdout.close()
        export_errors = exporting.stderr.read().decode() if exporting.stderr else ""
    assert exporting.returncode == 0, export_errors
    assert export_errors.strip() == "exported 3 addresses of acme"
    assert importing.returncode == 0, importing.stderr
    assert importing.stdout.strip() == (
        "imported standard input into globex: 3 added, 0 already suppressed, 0 rows skipped"
    )
    assert importing.stderr == ""
    assert suppressed_in(engine, "globex") == suppressed_in(engine, "acme")

    target = tmp_path / "bounced.csv"
    saved = ok(
        "suppress", "export", "--org", "globex", "--reason", "bounced", "--output", str(target)
    )
    assert saved.stdout.strip() == f"exported 1 address of globex to {target}"
    rows = list(csv.reader(target.open(newline="", encoding="utf-8")))
    assert rows[0] == ["email", "reason", "created_at"]
    assert [row[:2] for row in rows[1:]] == [["linus@example.net", "bounced"]]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows[1][2])
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.endswith(".part")) == []


def test_import_refusals_name_the_problem_and_change_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    good = write_csv(tmp_path / "good.csv", ["email", "ada@example.com"])
    no_column = write_csv(tmp_path / "names.csv", ["name", "Ada"])
    open_quote = write_csv(tmp_path / "quote.csv", ["email", "a@example.org", '"b@example.org'])
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email\nzoë@example.org\n".encode("latin-1"))
    assert 'names.csv: no "email" column: the header is "name"' in (
        refused("suppress", "import", str(no_column), "--org", "acme")
    )
    assert "quote.csv: line 3: a quoted field opens here and is never closed" in refused(
        "suppress", "import", str(open_quote), "--org", "acme"
    )
    assert "latin.csv: line 2: the file is not UTF-8 text" in refused(
        "suppress", "import", str(latin), "--org", "acme"
    )
    assert "no file missing.csv" in refused("suppress", "import", "missing.csv", "--org", "acme")
    assert "--reason" in refused("suppress", "import", str(good), "--org", "acme", "--reason", "x")
    assert "no organization 'nobody'" in refused("suppress", "import", str(good), "--org", "nobody")
    assert "no organization 'nobody'" in refused("suppress", "export", "--org", "nobody")
    assert "--reason" in refused("suppress", "export", "--org", "acme", "--reason", "x")
    assert suppressed(engine) == {}
    assert imports(engine) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bar_shows_the_bytes_read_on_a_terminal_only(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    source = write_csv(
        tmp_path / "many.csv", ["email", *(f"p{number}@example.org" for number in range(3000))]
    )
    command = campaignd("suppress", "import", str(source), "--org", "acme")
    piped = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    leader, follower = pty.openpty()
    report = tmp_path / "report.txt"
    with report.open("wb") as stdout:
        process = subprocess.Popen(
            command, stdout=stdout, stderr=follower, env=dict(os.environ, COLUMNS="100")
        )
    os.close(follower)
    shown = b""
    try:
        while block := os.read(leader, 65536):  # EIO once the command has ended
            shown += block
    except OSError:
        pass
    finally:
        os.close(leader)
    assert process.wait(timeout=120) == 0
    assert report.read_text().startswith(
        "imported many.csv into acme: 0 added, 3000 already suppressed"
    )
    assert b"importing many.csv" in shown, shown
    assert b"kB" in shown, shown
