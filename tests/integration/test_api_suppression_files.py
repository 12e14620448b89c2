"""The suppression list as CSV over HTTP: import and export, scope, and files that are refused."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator

import pytest

from campaignd.actions.suppression_files import CHUNK_ROWS, EXPORT_PAGE_ROWS
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import audit_log, suppressions
from tests.integration.api_client import Api, open_api

CSV = {"content-type": "text/csv"}
LIMIT = 1024 * 1024


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings, max_body_bytes=LIMIT) as handle:
        yield handle


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


async def listed(api: Api, organization: str) -> dict[str, str]:
    found = await api.rows(suppressions)
    slugs = {"acme": 1, "globex": 2}
    return {
        str(row["email"]): str(row["reason"])
        for row in found
        if row["organization_id"] == slugs[organization]
    }


async def imports(api: Api) -> list[dict[str, object]]:
    entries = await api.rows(audit_log, audit_log.c.action == "suppression.import")
    return [dict(entry["detail"]) for entry in entries]


async def test_import_reports_each_row_and_the_export_reads_it_back(api: Api) -> None:
    body = (
        "\ufeffEmail,Reason,Name\r\n"
        "Ada@Example.COM,Bounced,Ada\r\n"
        "grace@example.org,,Grace\r\n"
        "\r\n"
        "not-an-address,manual,Nobody\r\n"
        "ada@example.com,complained,Ada again\r\n"
        '"linus@example.net",spam,"Linus, T."\r\n'
        '"alan@example.net","unsubscribed","Alan\nTuring"\r\n'
        "bob@example.org\r\n"
    ).encode()
    response = await api.call(
        "acme_admin", "POST", "/suppressions/import?reason=complained", content=body, headers=CSV
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "organization": "acme",
        "added": 4,
        "unchanged": 1,
        "invalid": [
            {
                "row": 5,
                "email": "not-an-address",
                "problem": "An email address must have an @-sign.",
            },
            {
                "row": 7,
                "email": "linus@example.net",
                "problem": "reason 'spam' is not one of manual, unsubscribed, bounced, complained",
            },
        ],
        "invalidCount": 2,
    }
    assert await listed(api, "acme") == {
        "ada@example.com": "bounced",
        "grace@example.org": "complained",
        "alan@example.net": "unsubscribed",
        "bob@example.org": "complained",
    }
    assert await listed(api, "globex") == {}

    again = await api.call("acme_admin", "POST", "/suppressions/import", content=body, headers=CSV)
    assert (again.json()["added"], again.json()["unchanged"]) == (0, 5)
    assert await listed(api, "acme") == {
        "ada@example.com": "bounced",
        "grace@example.org": "complained",
        "alan@example.net": "unsubscribed",
        "bob@example.org": "complained",
    }
    reports = await imports(api)
    assert [(item["added"], item["unchanged"], item["invalid_count"]) for item in reports] == [
        (4, 1, 2),
        (0, 5, 2),
    ]

    exported = await api.call("acme_viewer", "GET", "/suppressions/export")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == (
        'attachment; filename="suppressions-acme.csv"'
    )
    rows = rows_of(exported.text)
    assert rows[0] == ["email", "reason", "created_at"]
    assert [row[:2] for row in rows[1:]] == [
        ["ada@example.com", "bounced"],
        ["alan@example.net", "unsubscribed"],
        ["bob@example.org", "complained"],
        ["grace@example.org", "complained"],
    ]
    listed_page = await api.call("acme_admin", "GET", "/suppressions")
    times = {item["email"]: item["createdAt"] for item in listed_page.json()["suppressions"]}
    for email, _, created_at in rows[1:]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created_at)
        assert created_at[:19] == times[email][:19], (created_at, times[email])

    moved = await api.call(
        "platform",
        "POST",
        "/suppressions/import?organization=globex",
        content=exported.content,
        headers={"content-type": "application/csv"},
    )
    assert moved.json() == {
        "organization": "globex",
        "added": 4,
        "unchanged": 0,
        "invalid": [],
        "invalidCount": 0,
    }
    assert await listed(api, "globex") == await listed(api, "acme")
    bounced = await api.call("globex_admin", "GET", "/suppressions/export?reason=bounced")
    assert bounced.headers["content-disposition"].endswith('"suppressions-globex-bounced.csv"')
    assert [row[:2] for row in rows_of(bounced.text)[1:]] == [["ada@example.com", "bounced"]]


async def test_large_lists_go_in_chunks_and_pages(api: Api) -> None:
    count = CHUNK_ROWS * 2 + 500
    assert count > EXPORT_PAGE_ROWS * 2
    lines = ["email"] + [f"person{number:06}@example.org" for number in range(count)]
    lines += ["person000001@example.org", "PERSON000002@example.org"]
    body = ("\n".join(lines) + "\n").encode()
    response = await api.call(
        "acme_admin", "POST", "/suppressions/import", content=body, headers=CSV
    )
    assert response.status_code == 200, response.text
    assert (response.json()["added"], response.json()["unchanged"]) == (count, 2)
    assert len(await imports(api)) == 1

    exported = await api.call("acme_admin", "GET", "/suppressions/export")
    emails = [row[0] for row in rows_of(exported.text)[1:]]
    assert emails == [f"person{number:06}@example.org" for number in range(count)]


async def test_another_organizations_list_never_shows(api: Api) -> None:
    for who, emails in (
        ("acme_admin", "mine@acme.example"),
        ("globex_admin", "theirs@globex.example"),
    ):
        body = f"email\n{emails}\n".encode()
        response = await api.call(who, "POST", "/suppressions/import", content=body, headers=CSV)
        assert response.status_code == 200, response.text
    own = await api.call("acme_admin", "GET", "/suppressions/export")
    assert "theirs@globex.example" not in own.text
    assert [row[0] for row in rows_of(own.text)[1:]] == ["mine@acme.example"]

    for organization in ("globex", "nowhere"):
        other = await api.call(
            "acme_admin", "GET", f"/suppressions/export?organization={organization}"
        )
        assert other.status_code == 422
        assert other.json()["detail"] == (
            f"organization: you belong to 'acme', not '{organization}'"
        )
        written = await api.call(
            "acme_admin",
            "POST",
            f"/suppressions/import?organization={organization}",
            content=b"email\nsneaky@example.org\n",
            headers=CSV,
        )
        assert written.status_code == 422
    assert await listed(api, "globex") == {"theirs@globex.example": "manual"}
    assert await listed(api, "acme") == {"mine@acme.example": "manual"}

    unnamed = await api.call("platform", "GET", "/suppressions/export")
    assert unnamed.status_code == 422 and "organization: required" in unnamed.json()["detail"]
    unknown = await api.call("platform", "GET", "/suppressions/export?organization=nowhere")
    assert unknown.json()["detail"] == "organization: no organization 'nowhere'"
    theirs = await api.call("platform", "GET", "/suppressions/export?organization=globex")
    assert [row[0] for row in rows_of(theirs.text)[1:]] == ["theirs@globex.example"]


async def test_who_may_import_and_export(api: Api) -> None:
    body = b"email\nada@example.com\n"
    viewer = await api.call(
        "acme_viewer", "POST", "/suppressions/import", content=body, headers=CSV
    )
    assert viewer.status_code == 403
    assert (await api.call(None, "GET", "/suppressions/export")).status_code == 401
    revoked = await api.call("revoked", "POST", "/suppressions/import", content=body, headers=CSV)
    assert revoked.status_code == 401
    assert await listed(api, "acme") == {}
    assert await imports(api) == []


BAD_FILES: dict[str, tuple[bytes, dict[str, str], int, str]] = {
    "no-email-column": (
        b"name,address\nAda,ada@example.com\n",
        CSV,
        422,
        'no "email" column: the header is "name, address"; name the column that holds the'
        ' addresses "email"; nothing was imported',
    ),
    "empty": (b"", CSV, 422, 'the CSV is empty: it needs a header row with an "email" column'),
    "quote-never-closed": (
        b"email\n" + b"".join(b"p%d@example.org\n" % n for n in range(7000)) + b'"x@example.org\n',
        CSV,
        422,
        "line 7002: a quoted field opens here and is never closed",
    ),
    "not-utf8": (
        "email,name\nada@example.com,Zoë\n".encode("latin-1"),
        CSV,
        400,
        "line 2: the file is not UTF-8 text (save it as CSV UTF-8); nothing was imported",
    ),
    "too-many-columns": (
        b"email" + b",x" * 200 + b"\nada@example.com\n",
        CSV,
        422,
        "line 1: 201 columns; at most 100 are allowed",
    ),
    "json": (
        b'{"emails": ["ada@example.com"]}',
        {"content-type": "application/json"},
        415,
        "text/csv",
    ),
    "no-content-type": (b"email\nada@example.com\n", {}, 415, "text/csv"),
    "too-large": (
        b"email\n" + b"person@example.org\n" * (LIMIT // 19 + 1),
        CSV,
        413,
        f"the body is larger than the limit of {LIMIT} bytes",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
async def test_a_file_that_cannot_be_read_changes_nothing(api: Api, case: str) -> None:
    body, headers, status, words = BAD_FILES[case]
    before = await api.snapshot()
    response = await api.call(
        "acme_admin", "POST", "/suppressions/import", content=body, headers=headers
    )
    assert response.status_code == status, response.text
    assert words in response.json()["detail"], response.json()
    assert await api.snapshot() == before


async def test_bad_parameters_are_named(api: Api) -> None:
    body = b"email\nada@example.com\n"
    wrong = await api.call(
        "acme_admin", "POST", "/suppressions/import?reason=annoyed", content=body, headers=CSV
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"].startswith("reason: ")
    export = await api.call("acme_admin", "GET", "/suppressions/export?reason=annoyed")
    assert export.status_code == 422
    assert await listed(api, "acme") == {}


async def test_the_address_routes_still_work_beside_the_file_routes(api: Api) -> None:
    body = b"email\nexport@example.org\nimport@example.org\n"
    await api.call("acme_admin", "POST", "/suppressions/import", content=body, headers=CSV)
    for email in ("export@example.org", "import@example.org"):
        removed = await api.call("acme_admin", "DELETE", f"/suppressions/{email}")
        assert removed.json()["removed"] == 1, removed.text
    assert await listed(api, "acme") == {}
    wrong_method = await api.call("acme_admin", "DELETE", "/suppressions/export")
    assert wrong_method.status_code == 422
