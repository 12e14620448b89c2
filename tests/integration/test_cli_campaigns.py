"""``campaignd campaign ...`` against a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from typer.testing import CliRunner, Result

from campaignd.cli import app
from campaignd.store.database import sync_url
from campaignd.store.schema import audit_log, campaigns, deliveries, runs


@pytest.fixture
def engine(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The CLI's environment (this database, an outbox in the test's folder) and a handle."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAMPAIGND_DATABASE_URL", database_url)
    monkeypatch.setenv("CAMPAIGND_EMAIL_TRANSPORT", f"file://{tmp_path / 'outbox'}")
    monkeypatch.delenv("CAMPAIGND_REDIS_URL", raising=False)
    handle = create_engine(sync_url(database_url))
    yield handle
    handle.dispose()


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(app, list(arguments))


def ok(*arguments: str) -> Result:
    result = invoke(*arguments)
    assert result.exit_code == 0, result.output
    return result


def refused(*arguments: str) -> str:
    result = invoke(*arguments)
    assert result.exit_code != 0, result.output
    return " ".join(result.output.split())


def campaign_row(engine: Engine, campaign_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
    assert row is not None
    return dict(row._mapping)


def count(engine: Engine, table: Any, *conditions: Any) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(table).where(*conditions)
            ).scalar_one()
        )


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def new_campaign(tmp_path: Path, **fields: Any) -> int:
    definition = {
        "name": "Winter Event",
        "subject": "Hello {{ first_name }}",
        "textBody": "Hi {{ first_name }}",
        "organization": "acme",
        **fields,
    }
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    return int(ok("campaign", "create", "--from", str(path)).stdout.splitlines()[0])


def test_create_from_yaml_with_csv_body_file_and_local_time(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    (tmp_path / "body.html").write_text("<p>Hi {{ first_name }}</p>", encoding="utf-8")
    write_csv(
        tmp_path / "people.csv",
        [
            "email,first_name",
            "ada@example.com,Ada",
            "not-an-address,X",
            "ADA@Example.com,Dup",
            "grace@example.org,Grace",
        ],
    )
    (tmp_path / "winter.yaml").write_text(
        "name: Winter Event\n"
        "subject: 'Hello {{ first_name }}'\n"
        "html_file: body.html\n"
        "textBody: 'Hi {{ first_name }}'\n"
        "replyTo: events@example.com\n"
        "organization: acme\n"
        "recipients: people.csv\n"
        "scheduledFor: '2099-12-01 09:00'\n"
        "timezone: Europe/Berlin\n",
        encoding="utf-8",
    )
    result = ok("campaign", "create", "--from", str(tmp_path / "winter.yaml"))
    campaign_id = int(result.stdout.splitlines()[0])
    assert "added 2, duplicates 1, invalid 1" in result.stdout
    assert "not-an-address" in result.stdout
    row = campaign_row(engine, campaign_id)
    assert row["status"] == "scheduled"
    assert row["scheduled_for"] == datetime(2099, 12, 1, 8, 0, tzinfo=UTC)
    assert row["html_body"] == "<p>Hi {{ first_name }}</p>"
    assert row["created_by"].startswith("cli:")
    assert count(engine, deliveries, deliveries.c.campaign_id == campaign_id) == 2
    assert count(engine, audit_log, audit_log.c.actor.like("cli:%")) >= 2


def test_create_from_json_with_inline_recipients(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(
        tmp_path,
        recipients=[
            "a@example.com",
            {"email": "b@example.org", "vars": {"first_name": "B"}},
            "a@example.com",
        ],
        scheduledFor="2099-01-01T09:00:00Z",
    )
    assert campaign_row(engine, campaign_id)["status"] == "scheduled"
    assert count(engine, deliveries, deliveries.c.campaign_id == campaign_id) == 2


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"name": "x", "subject": "s", "textBody": "t", "organization": "acme", "colour": "red"},
            "unknown field 'colour'",
        ),
        (
            {
                "name": "x",
                "subject": "s",
                "textBody": "t",
                "organization": "acme",
                "scheduledFor": "2099-01-01 09:00",
            },
            "no time zone",
        ),
        (
            {
                "name": "x",
                "subject": "s",
                "textBody": "t",
                "organization": "acme",
                "scheduledFor": "2001-01-01T09:00:00Z",
            },
            "in the past",
        ),
        (
            {"name": "x", "subject": "s", "textBody": "t", "organization": "nobody"},
            "no organization 'nobody'",
        ),
        ({"name": "x", "subject": "s", "organization": "acme"}, "needs at least one body"),
        (
            {"name": "n" * 201, "subject": "s", "textBody": "t", "organization": "acme"},
            "name: 201 characters; at most 200 are allowed",
        ),
        ({"name": "x", "subject": "{{ broken", "textBody": "t", "organization": "acme"}, "subject"),
        (
            {"name": "x", "subject": "s", "html_file": "missing.html", "organization": "acme"},
            "cannot read",
        ),
        (
            {
                "name": "x",
                "subject": "s",
                "textBody": "t",
                "organization": "acme",
                "recipients": "missing.csv",
            },
            "no file",
        ),
        (
            {"name": "Winter\x00Event", "subject": "s", "textBody": "t", "organization": "acme"},
            "name: must not contain the NUL character (\\u0000)",
        ),
        (
            {
                "name": "x",
                "subject": "s",
                "textBody": "t",
                "organization": "acme",
                "recipients": [{"email": "a@example.com", "vars": {"city": "Ri\x00ga"}}],
            },
            "recipients[0].vars.city: must not contain the NUL character (\\u0000)",
        ),
    ],
)
def test_create_refuses_bad_files_and_changes_nothing(
    engine: Engine, tmp_path: Path, definition: dict[str, Any], message: str
) -> None:
    ok("org", "create", "acme")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    assert message in refused("campaign", "create", "--from", str(path))
    assert count(engine, campaigns) == 0


def test_create_refuses_the_nul_character_in_yaml_and_in_a_body_file(
    engine: Engine, tmp_path: Path
) -> None:
    """PostgreSQL stores no U+0000: it was a traceback there (and stored on SQLite)."""
    ok("org", "create", "acme")
    (tmp_path / "nul.yaml").write_text(
        'name: x\nsubject: "Hello\\0"\ntextBody: t\norganization: acme\n', encoding="utf-8"
    )
    assert "nul.yaml: subject: must not contain the NUL character (\\u0000)" in refused(
        "campaign", "create", "--from", str(tmp_path / "nul.yaml")
    )
    (tmp_path / "body.html").write_text("<p>Hi\x00</p>", encoding="utf-8")
    (tmp_path / "file.yaml").write_text(
        "name: x\nsubject: s\nhtml_file: body.html\norganization: acme\n", encoding="utf-8"
    )
    assert "body.html must not contain the NUL character (\\u0000)" in refused(
        "campaign", "create", "--from", str(tmp_path / "file.yaml")
    )
    assert count(engine, campaigns) == 0


def test_create_refuses_a_missing_or_malformed_file(engine: Engine, tmp_path: Path) -> None:
    assert "cannot read" in refused("campaign", "create", "--from", str(tmp_path / "none.yaml"))
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    assert "not valid YAML" in refused("campaign", "create", "--from", str(tmp_path / "bad.yaml"))


def test_import_streams_in_chunks_and_counts_duplicates_across_chunks(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path, recipients=["first@example.com"])
    lines = ["email,first_name,city"] + [f"person{i}@example.com,P{i},Oslo" for i in range(10)]
    lines += [
        "person3@example.com,again,Oslo",
        "first@example.com,F,Oslo",
        "@bad,Z,Oslo",
        "",
        "person11@example.org",
    ]
    path = write_csv(tmp_path / "list.csv", lines)
    result = ok("campaign", "import", str(campaign_id), str(path), "--chunk-rows", "3")
    assert "added 11, duplicates 2, invalid 1" in result.stdout
    assert "14" in result.stdout  # the spreadsheet row of "@bad"
    assert count(engine, deliveries, deliveries.c.campaign_id == campaign_id) == 12
    with engine.connect() as connection:
        variables = connection.execute(
            select(deliveries.c.variables).where(deliveries.c.email == "person0@example.com")
        ).scalar_one()
    assert variables == {"first_name": "P0", "city": "Oslo"}


def test_import_refusals_change_nothing(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path)
    no_email = write_csv(tmp_path / "no_email.csv", ["name", "Ada"])
    assert 'no "email" column' in refused("campaign", "import", str(campaign_id), str(no_email))
    good = write_csv(tmp_path / "good.csv", ["email", "ada@example.com"])
    assert "campaign 999 not found" in refused("campaign", "import", "999", str(good))
    assert "no file" in refused("campaign", "import", str(campaign_id), str(tmp_path / "none.csv"))
    assert count(engine, deliveries) == 0


def test_schedule_with_time_zone_and_lifecycle(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path, recipients=["a@example.com", "b@example.com"])
    message = refused("campaign", "schedule", str(campaign_id), "--at", "2099-12-01 09:00")
    assert "--tz" in message
    assert "unknown time zone" in refused(
        "campaign", "schedule", str(campaign_id), "--at", "2099-12-01 09:00", "--tz", "Mars/Base"
    )
    assert "does not exist" in refused(
        "campaign",
        "schedule",
        str(campaign_id),
        "--at",
        "2099-03-29 02:30",
        "--tz",
        "Europe/Berlin",
    )
    assert "not a time" in refused("campaign", "schedule", str(campaign_id), "--at", "soon")
    assert campaign_row(engine, campaign_id)["status"] == "draft"

    ok(
        "campaign",
        "schedule",
        str(campaign_id),
        "--at",
        "2099-12-01 09:00",
        "--tz",
        "Europe/Berlin",
    )
    row = campaign_row(engine, campaign_id)
    assert (row["status"], row["scheduled_for"]) == (
        "scheduled",
        datetime(2099, 12, 1, 8, 0, tzinfo=UTC),
    )
    ok("campaign", "schedule", str(campaign_id), "--at", "2099-07-01T09:00:00+02:00")
    assert campaign_row(engine, campaign_id)["scheduled_for"] == datetime(
        2099, 7, 1, 7, 0, tzinfo=UTC
    )
    ok("campaign", "unschedule", str(campaign_id))
    assert campaign_row(engine, campaign_id)["status"] == "draft"
    assert "draft" in refused("campaign", "pause", str(campaign_id))

    result = ok("campaign", "execute", str(campaign_id))
    assert "is sending" in result.stdout
    assert campaign_row(engine, campaign_id)["status"] == "sending"
    assert count(engine, runs, runs.c.campaign_id == campaign_id, runs.c.trigger == "manual") == 1
    assert "sending" in refused("campaign", "execute", str(campaign_id))
    assert count(engine, runs, runs.c.campaign_id == campaign_id) == 1

    ok("campaign", "pause", str(campaign_id))
    assert campaign_row(engine, campaign_id)["status"] == "paused"
    ok("campaign", "resume", str(campaign_id))
    ok("campaign", "cancel", str(campaign_id))
    assert campaign_row(engine, campaign_id)["status"] == "cancelled"
    assert "not found" in refused("campaign", "cancel", "4242")


def test_status_list_and_preview(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path, recipients=["a@example.com", "b@example.com"])
    status = ok("campaign", "status", str(campaign_id)).stdout
    assert "draft" in status and "pending" in status
    ok("suppress", "add", "b@example.com", "--org", "acme")
    preview = ok("campaign", "preview", str(campaign_id)).stdout
    assert "2 recipients, 1 eligible, 1 not" in preview
    assert "b@example.com" in preview and "suppressed" in preview
    listing = ok("campaign", "list").stdout
    assert "Winter Event" in listing and "draft" in listing
    assert "Winter Event" not in ok("campaign", "list", "--status", "sent").stdout
    assert "unknown status" in refused("campaign", "list", "--status", "bogus")


def test_preview_warns_about_recipients_lacking_a_variable(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    people = [
        {"email": "ann@example.com", "vars": {"first_name": "Ann", "city": "Oslo"}},
        {"email": "bob@example.com", "vars": {"first_name": "", "city": ""}},
        "cy@example.com",
    ]
    campaign_id = new_campaign(
        tmp_path,
        subject="Hello {{ first_name }}!",
        textBody="Hi, news from {{ city | default('town') }} today",
        recipients=people,
    )
    shown = ok("campaign", "preview", str(campaign_id)).stdout
    assert (
        "warning: 2 recipients have no first_name: they will see “Hello !” "
        "(bob@example.com, cy@example.com)" in shown
    )
    assert (
        "warning: 1 recipient has an empty city, which default(...) does not replace: "
        "they will see “Hi, news from today” (bob@example.com)" in shown
    )
    assert '{{ first_name | default("...", true) }}' in shown
    document = json.loads(ok("campaign", "preview", str(campaign_id), "--json").stdout)
    assert document["missingVariables"] == [
        {
            "name": "first_name",
            "recipients": 2,
            "emptyOnly": False,
            "seenAs": "Hello !",
            "sample": ["bob@example.com", "cy@example.com"],
        },
        {
            "name": "city",
            "recipients": 1,
            "emptyOnly": True,
            "seenAs": "Hi, news from today",
            "sample": ["bob@example.com"],
        },
    ]

    covered = new_campaign(
        tmp_path,
        subject="Hello {{ first_name | default('there', true) }}!",
        textBody="{% if city %}News from {{ city }}{% endif %}",
        recipients=people,
    )
    shown = ok("campaign", "preview", str(covered)).stdout
    assert "warning" not in shown and "first_name" not in shown
    assert (
        json.loads(ok("campaign", "preview", str(covered), "--json").stdout)["missingVariables"]
        == []
    )


def test_watch_ends_with_the_campaign(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(
        tmp_path, recipients=["a@example.com"], scheduledFor="2099-01-01T00:00:00Z"
    )
    ok("campaign", "cancel", str(campaign_id))
    result = invoke("campaign", "status", str(campaign_id), "--watch", "--interval", "0.1")
    assert result.exit_code == 1
    assert "cancelled" in result.stdout


def test_schedule_refuses_a_bare_date_and_the_skipped_hour_and_names_the_repeated_one(
    engine: Engine, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    campaign_id = str(new_campaign(tmp_path, recipients=["a@example.com"]))
    for bare in ("2099-12-02", "20991202"):
        for zone in ("--tz", "Europe/Berlin"), ():
            message = refused("campaign", "schedule", campaign_id, "--at", bare, *zone)
            assert f"'{bare}' is a date without a time of day" in message
    skipped = refused(
        "campaign", "schedule", campaign_id, "--at", "2099-03-29 02:30", "--tz", "Europe/Berlin"
    )
    assert "2099-03-29 02:30 does not exist in Europe/Berlin" in skipped
    assert "the clocks go forward from 02:00 to 03:00" in skipped
    assert "CET +01:00 to CEST +02:00" in skipped
    assert campaign_row(engine, int(campaign_id))["status"] == "draft"

    at = ("--at", "2099-10-25 02:30", "--tz", "Europe/Berlin")
    first = ok("campaign", "schedule", campaign_id, *at)
    assert campaign_row(engine, int(campaign_id))["scheduled_for"] == datetime(
        2099, 10, 25, 0, 30, tzinfo=UTC
    )
    said = " ".join(first.stderr.split())
    assert "2099-10-25 02:30 happens twice in Europe/Berlin" in said
    assert "taken as the first, 02:30 CEST (+02:00) = 2099-10-25 00:30 UTC" in said
    assert "02:30 CET (+01:00) = 2099-10-25 01:30 UTC, use --fold 1" in said

    second = ok("campaign", "schedule", campaign_id, *at, "--fold", "1")
    assert campaign_row(engine, int(campaign_id))["scheduled_for"] == datetime(
        2099, 10, 25, 1, 30, tzinfo=UTC
    )
    assert "taken as the second" in " ".join(second.stderr.split())
    assert "--fold" in refused("campaign", "schedule", campaign_id, *at, "--fold", "2")


def test_clone_prints_the_new_draft(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    original = new_campaign(tmp_path, recipients=["ada@example.com", "bob@example.com"])
    result = ok("campaign", "clone", str(original))
    copy = int(result.stdout.splitlines()[0])
    assert copy != original
    assert "'Winter Event (copy)' (acme): draft, 2 recipients" in result.stdout
    assert campaign_row(engine, copy)["subject"] == "Hello {{ first_name }}"
    assert count(engine, deliveries, deliveries.c.campaign_id == copy) == 2
    assert "campaign 999 not found" in refused("campaign", "clone", "999")
