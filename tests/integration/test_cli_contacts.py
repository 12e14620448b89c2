"""``campaignd contact ...`` against a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, select

from campaignd.store.schema import audit_log, contacts, deliveries, suppressions
from tests.integration.test_cli_campaigns import (
    engine,
    invoke,
    new_campaign,
    ok,
    refused,
    write_csv,
)

__all__ = ["engine"]


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(select(contacts.c.email, contacts.c.status)).all()
    return {email: status for email, status in rows}


def attributes(engine: Engine) -> dict[str, object]:
    with engine.connect() as connection:
        rows = connection.execute(select(contacts.c.email, contacts.c.attributes)).all()
    return {email: value for email, value in rows}


def suppressed(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(select(suppressions.c.email, suppressions.c.reason)).all()
    return {email: reason for email, reason in rows}


def test_import_csv_and_json_lines_then_list_and_show(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    people = write_csv(
        tmp_path / "people.csv",
        [
            "email,first_name,plan",
            "Ada@Example.com,Ada,pro",
            "not-an-address,X,",
            "grace@example.org,Grace,",
        ],
    )
    result = ok("contact", "import", str(people), "--org", "acme")
    assert "acme: created 2, updated 0, unchanged 0, erased 0, invalid 1" in result.stdout
    assert "not-an-address" in result.stdout
    again = ok("contact", "import", str(people), "--org", "acme")
    assert "created 0, updated 0, unchanged 2" in again.stdout
    lines = tmp_path / "changes.jsonl"
    lines.write_text(
        json.dumps({"email": "ada@example.com", "attributes": {"age": 36, "plan": None}})
        + "\n"
        + json.dumps({"email": "grace@example.org", "status": "unsubscribed"})
        + "\n",
        encoding="utf-8",
    )
    changed = ok("contact", "import", str(lines), "--org", "acme", "--source", "crm")
    assert "created 0, updated 2" in changed.stdout
    assert attributes(engine) == {
        "ada@example.com": {"first_name": "Ada", "age": 36},
        "grace@example.org": {"first_name": "Grace"},
    }
    assert suppressed(engine) == {"grace@example.org": "unsubscribed"}

    listing = json.loads(ok("contact", "list", "--org", "acme", "--json").stdout)
    assert [(row["email"], row["status"]) for row in listing["contacts"]] == [
        ("ada@example.com", "subscribed"),
        ("grace@example.org", "unsubscribed"),
    ]
    assert listing["contacts"][0]["attributes"] == {"first_name": "Ada", "age": 36}
    table = ok("contact", "list", "--org", "acme", "--status", "unsubscribed").stdout
    assert "grace@example.org" in table and "ada@example.com" not in table
    shown = ok("contact", "show", "ADA@example.com", "--org", "acme").stdout
    assert "ada@example.com (acme): subscribed" in shown and "age: 36" in shown


def test_replace_mode_and_refusals(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    first = write_csv(tmp_path / "a.csv", ["email,plan,city", "ada@example.com,pro,Paris"])
    ok("contact", "import", str(first), "--org", "acme")
    second = write_csv(tmp_path / "b.csv", ["email,plan", "ada@example.com,free"])
    ok("contact", "import", str(second), "--org", "acme", "--mode", "replace")
    assert attributes(engine) == {"ada@example.com": {"plan": "free"}}
    assert "--mode: must be merge or replace" in refused(
        "contact", "import", str(second), "--org", "acme", "--mode", "both"
    )
    odd = tmp_path / "people.txt"
    odd.write_text("email\na@example.com\n", encoding="utf-8")
    assert "add --format csv or --format jsonl" in refused(
        "contact", "import", str(odd), "--org", "acme"
    )
    bad_header = write_csv(tmp_path / "c.csv", ["email,first name", "b@example.com,B"])
    assert "not a valid attribute name" in refused(
        "contact", "import", str(bad_header), "--org", "acme"
    )
    assert "no organization 'nobody'" in refused("contact", "import", str(first), "--org", "nobody")
    assert "STATUS: must be one of" in refused(
        "contact", "set-status", "ada@example.com", "gone", "--org", "acme"
    )
    assert attributes(engine) == {"ada@example.com": {"plan": "free"}}


def test_set_status_delete_export_and_erase(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(
        tmp_path, recipients=[{"email": "ada@example.com", "vars": {"first_name": "Ada"}}]
    )
    people = write_csv(
        tmp_path / "people.csv", ["email,plan", "ada@example.com,pro", "bob@example.com,free"]
    )
    ok("contact", "import", str(people), "--org", "acme")
    said = ok("contact", "set-status", "ada@example.com", "bounced", "--org", "acme").stdout
    assert "ada@example.com in acme is now bounced (suppressed)" in said
    assert suppressed(engine) == {"ada@example.com": "bounced"}
    ok("suppress", "remove", "ada@example.com", "--org", "acme")
    assert statuses(engine)["ada@example.com"] == "subscribed"

    ok("contact", "delete", "bob@example.com", "--org", "acme")
    assert "no contact bob@example.com in acme" in refused(
        "contact", "delete", "bob@example.com", "--org", "acme"
    )

    target = tmp_path / "ada.json"
    ok("contact", "export", "ada@example.com", "--org", "acme", "--output", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["contact"]["attributes"] == {"plan": "pro"}
    assert [row["vars"] for row in document["deliveries"]] == [{"first_name": "Ada"}]
    printed = json.loads(ok("contact", "export", "ada@example.com", "--org", "acme").stdout)
    assert printed["email"] == "ada@example.com"

    assert "add --yes" in refused("contact", "erase", "ada@example.com", "--org", "acme")
    assert "ada@example.com" in statuses(engine)
    erased = ok("contact", "erase", "ada@example.com", "--org", "acme", "--yes").stdout
    assert "erased ada@example.com from acme: contact 1" in erased
    assert statuses(engine) == {}
    with engine.connect() as connection:
        emails = (
            connection.execute(
                select(deliveries.c.email).where(deliveries.c.campaign_id == campaign_id)
            )
            .scalars()
            .all()
        )
        actions = connection.execute(select(audit_log.c.action, audit_log.c.actor)).all()
    assert len(emails) == 1 and emails[0].endswith("@erased.invalid")
    assert ("contact.erase", actions[-1][1]) in actions and actions[-1][1].startswith("cli:")
    back = ok("contact", "import", str(people), "--org", "acme").stdout
    assert "created 1, updated 0, unchanged 0, erased 1" in back
    recipients = write_csv(
        tmp_path / "again.csv", ["email", "ada@example.com", "carol@example.com"]
    )
    report = ok("campaign", "import", str(campaign_id), str(recipients)).stdout
    assert "added 1, duplicates 0, invalid 0, erased 1" in report


def test_a_big_import_in_a_pipe_reports_progress_in_plain_lines(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    path = tmp_path / "many.csv"
    rows = [f"person{number}@example.com,Person {number}" for number in range(12_000)]
    write_csv(path, ["email,first_name", *rows])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "campaignd",
            "contact",
            "import",
            str(path),
            "--org",
            "acme",
            "--batch",
            "1000",
            "--every",
            "0.1",
        ],
        cwd=tmp_path,
        env=os.environ | {"CAMPAIGND_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "acme: created 12000, updated 0, unchanged 0, erased 0, invalid 0"
    )
    assert "\x1b[" not in done.stderr and "\r" not in done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("importing many.csv")]
    assert progress, done.stderr
    assert all(" rows stored, " in line and " MB" in line for line in progress)
    assert len(statuses(engine)) == 12_000


def test_a_bad_line_stops_the_import_and_keeps_what_came_before(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    lines = [json.dumps({"email": f"p{number}@example.com"}) for number in range(3)]
    lines.append('{"email": "q@example.com", "attributes": {"a": {"b": 1}}}')
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("contact", "import", str(path), "--org", "acme", "--batch", "2")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "line 4: attributes.a: must be a string" in output
    assert "the batches before it were stored" in output
    assert sorted(statuses(engine)) == ["p0@example.com", "p1@example.com"]
