"""``campaignd segment ...`` against a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

from campaignd.store.columns import utcnow
from campaignd.store.schema import audit_log, contacts, list_members, lists, segments
from tests.integration.test_cli_campaigns import engine, ok, refused

__all__ = ["engine"]

PRO_IN_DACH = {
    "all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "country", "op": "in", "value": ["DE", "AT"]},
    ]
}


def piped(*arguments: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``campaignd ARGUMENTS`` in a child process reading ``stdin``, its stdout a pipe."""
    return subprocess.run(
        [sys.executable, "-m", "campaignd", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="80"),
        timeout=60,
    )


def piped_ok(*arguments: str) -> str:
    done = piped(*arguments)
    assert done.returncode == 0, done.stderr
    return done.stdout


def seed(engine: Engine) -> None:
    """acme with four contacts (one unsubscribed) and a list 'newsletter' of two."""
    ok("org", "create", "acme")
    now = utcnow()
    people = {
        "ada@acme.example": ({"plan": "pro", "country": "DE"}, "subscribed"),
        "bea@acme.example": ({"plan": "pro", "country": "AT", "note": "Grüße"}, "subscribed"),
        "cyd@acme.example": ({"plan": "free", "country": "DE"}, "subscribed"),
        "dan@acme.example": ({"plan": "pro", "country": "DE"}, "unsubscribed"),
    }
    with engine.begin() as connection:
        ids = dict(
            connection.execute(
                insert(contacts).returning(contacts.c.email, contacts.c.id),
                [
                    {
                        "organization_id": 1,
                        "email": email,
                        "attributes": attributes,
                        "status": status,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for email, (attributes, status) in people.items()
                ],
            ).all()
        )
        list_id = connection.execute(
            insert(lists)
            .values(
                organization_id=1,
                name="newsletter",
                visibility="public",
                opt_in="single",
                created_at=now,
                updated_at=now,
            )
            .returning(lists.c.id)
        ).scalar_one()
        connection.execute(
            insert(list_members),
            [
                {
                    "list_id": list_id,
                    "contact_id": ids[email],
                    "status": "confirmed",
                    "created_at": now,
                    "updated_at": now,
                }
                for email in ("ada@acme.example", "cyd@acme.example")
            ],
        )


def saved(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return {
            name: filter
            for name, filter in connection.execute(select(segments.c.name, segments.c.filter))
        }


def test_create_show_count_edit_delete(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    created = ok(
        "segment", "create", "Pro in DACH", "--org", "acme", "--filter", json.dumps(PRO_IN_DACH)
    )
    assert created.stdout.strip() == (
        "created segment 'Pro in DACH' in acme (id 1): 2 subscribed contacts match now"
    )
    assert saved(engine) == {"Pro in DACH": PRO_IN_DACH}

    shown = ok("segment", "show", "Pro in DACH", "--org", "acme").stdout
    assert '2 subscribed contacts in acme match: plan = "pro" and country in ["DE", "AT"]' in shown
    assert "ada@acme.example" in shown and "bea@acme.example" in shown
    assert "dan@acme.example" not in shown
    document = json.loads(ok("segment", "show", "Pro in DACH", "--org", "acme", "--json").stdout)
    assert document["count"] == 2 and document["filter"] == PRO_IN_DACH
    assert document["sample"][1] == {
        "email": "bea@acme.example",
        "attributes": {"plan": "pro", "country": "AT", "note": "Grüße"},
    }

    path = tmp_path / "readers.json"
    path.write_text('{"list": "newsletter"}', encoding="utf-8")
    counted = ok("segment", "count", "--org", "acme", "--filter-file", str(path), "--json")
    assert json.loads(counted.stdout)["count"] == 2
    one = ok(
        "segment",
        "count",
        "--org",
        "acme",
        "--filter",
        '{"attribute": "plan", "op": "eq", "value": "free"}',
    )
    assert one.stdout.startswith('1 subscribed contact in acme matches: plan = "free"')

    ok(
        "segment",
        "edit",
        "Pro in DACH",
        "--org",
        "acme",
        "--name",
        "Readers",
        "--filter-file",
        str(path),
    )
    assert saved(engine) == {"Readers": {"list": "newsletter"}}
    listing = json.loads(ok("segment", "list", "--org", "acme", "--json").stdout)
    assert [item["filterText"] for item in listing["segments"]] == ['member of list "newsletter"']

    assert ok("segment", "delete", "Readers", "--org", "acme").stdout.strip() == (
        "deleted segment 'Readers' from acme"
    )
    assert saved(engine) == {}
    with engine.connect() as connection:
        actions = connection.execute(select(audit_log.c.action, audit_log.c.actor)).all()
    mine = [(action, actor) for action, actor in actions if action.startswith("segment.")]
    assert [action for action, _ in mine] == ["segment.create", "segment.edit", "segment.delete"]
    assert all(actor.startswith("cli:") for _, actor in mine)


def test_refusals_change_nothing(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    ok("segment", "create", "VIP", "--org", "acme", "--filter", '{"all": []}')
    before = saved(engine)
    assert 'filter.all[1].value: "in" needs a list of values' in refused(
        "segment",
        "create",
        "X",
        "--org",
        "acme",
        "--filter",
        '{"all": [{"list": "newsletter"}, {"attribute": "country", "op": "in", "value": "DE"}]}',
    )
    assert "filter.list: acme has no list named 'customers'" in refused(
        "segment", "count", "--org", "acme", "--filter", '{"list": "customers"}'
    )
    assert "--filter: not valid JSON" in refused(
        "segment", "create", "X", "--org", "acme", "--filter", "plan = pro"
    )
    assert "a filter is needed" in refused("segment", "create", "X", "--org", "acme")
    assert "cannot read it" in refused(
        "segment", "create", "X", "--org", "acme", "--filter-file", str(tmp_path / "none.json")
    )
    assert "acme already has a segment named 'VIP'" in refused(
        "segment", "create", "VIP", "--org", "acme", "--filter", '{"all": []}'
    )
    assert "segment 'Nope' not found in acme" in refused("segment", "show", "Nope", "--org", "acme")
    assert "no organization 'nobody'" in refused("segment", "list", "--org", "nobody")
    assert "nothing to change" in refused("segment", "edit", "VIP", "--org", "acme")
    assert saved(engine) == before


def test_in_a_pipe(engine: Engine, tmp_path: Path) -> None:
    """Real child processes: the filter from stdin, whole lines in the output, exit codes."""
    seed(engine)
    done = piped(
        "segment",
        "create",
        "Pro in DACH",
        "--org",
        "acme",
        "--filter-file",
        "-",
        stdin=json.dumps(PRO_IN_DACH),
    )
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout
        == "created segment 'Pro in DACH' in acme (id 1): 2 subscribed contacts match now\n"
    )
    listing = piped_ok("segment", "list", "--org", "acme")
    assert any(
        "Pro in DACH" in line and 'plan = "pro" and country in ["DE", "AT"]' in line
        for line in listing.splitlines()
    ), listing
    shown = piped_ok("segment", "show", "Pro in DACH", "--org", "acme")
    assert any('"note": "Grüße"' in line for line in shown.splitlines()), shown
    bad = piped(
        "segment", "count", "--org", "acme", "--filter", '{"attribute": "a b", "op": "exists"}'
    )
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith('error: filter.attribute: "a b" is not an attribute name')
