"""Recipients over HTTP: JSON and CSV imports with their report, and the delivery ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, open_api

CSV = {"content-type": "text/csv; charset=utf-8"}


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


async def test_json_recipients_with_variables(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    response = await api.call(
        "acme_admin",
        "POST",
        f"/campaigns/{campaign_id}/recipients",
        json={
            "recipients": [
                "Linus@Example.com",
                {"email": "margaret@example.org", "vars": {"first_name": "Margaret"}},
                "ada@example.com",
                "broken@",
            ]
        },
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["duplicates"]) == (2, 1)
    assert [(item["row"], item["email"]) for item in report["invalid"]] == [(4, "broken@")]
    listed = await api.call("acme_viewer", "GET", f"/campaigns/{campaign_id}/recipients")
    rows = {item["email"]: item for item in listed.json()["recipients"]}
    assert set(rows) == {
        "ada@example.com",
        "grace@example.org",
        "linus@example.com",
        "margaret@example.org",
    }
    assert rows["margaret@example.org"]["vars"] == {"first_name": "Margaret"}
    first = rows["ada@example.com"]
    assert first["status"] == "pending"
    assert {"code", "reason", "attempts", "sentAt", "lastError"} <= set(first)
    audit = (await api.audit())[-1]
    assert (audit["action"], audit["actor"]) == ("campaign.recipients.add", "token:acme_admin")
    assert audit["detail"] == {"added": 2, "duplicates": 1, "invalid": 1}


async def test_csv_with_bom_quotes_blank_lines_and_extra_columns(api: Api) -> None:
    campaign_id = await api.campaign_in("scheduled")
    body = (
        "\ufeffEmail,first_name,note\r\n"
        "\r\n"
        'zoe@example.com,Zoë,"likes, commas"\r\n'
        '"jo@example.com","Jo","two\nlines"\r\n'
        "not-an-address,X,\r\n"
        "ZOE@example.com,again,\r\n"
        ",,\r\n"
    ).encode()
    response = await api.call(
        "acme_admin", "POST", f"/campaigns/{campaign_id}/recipients", content=body, headers=CSV
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["duplicates"]) == (2, 1)
    assert report["invalid"][0]["email"] == "not-an-address"
    assert report["invalid"][0]["row"] == 6
    listed = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/recipients?limit=10")
    variables = {item["email"]: item["vars"] for item in listed.json()["recipients"]}
    assert variables["zoe@example.com"] == {"first_name": "Zoë", "note": "likes, commas"}
    assert variables["jo@example.com"] == {"first_name": "Jo", "note": "two\nlines"}


async def test_csv_separated_by_semicolons_as_its_header_is(api: Api) -> None:
    campaign_id = await api.campaign_in("draft", recipients=[])
    body = "\ufeff Email ;First_Name;City\r\nzoe@example.com;Zoë;Paris, France\r\n".encode()
    response = await api.call(
        "acme_admin", "POST", f"/campaigns/{campaign_id}/recipients", content=body, headers=CSV
    )
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1
    listed = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/recipients")
    [delivery] = listed.json()["recipients"]
    assert delivery["email"] == "zoe@example.com"
    assert delivery["vars"] == {"first_name": "Zoë", "city": "Paris, France"}


async def test_a_header_without_email_answers_what_to_rename(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    response = await api.call(
        "acme_admin",
        "POST",
        f"/campaigns/{campaign_id}/recipients",
        content="E-Mail;Vorname\nzoe@example.com;Zoë\n".encode(),
        headers=CSV,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (
        'no "email" column: the header is "E-Mail; Vorname" (separated by ";"); '
        'rename "E-Mail" to "email"'
    )
    assert await api.snapshot() == before


async def test_recipient_pages_and_status_filter(api: Api) -> None:
    emails = [f"person{number}@example.com" for number in range(7)]
    campaign_id = await api.campaign_in("draft", recipients=emails)
    seen: list[str] = []
    cursor: int | None = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/recipients{query}")
        body = page.json()
        seen += [item["email"] for item in body["recipients"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == emails
    sent = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/recipients?status=sent")
    assert sent.json() == {"recipients": [], "nextCursor": None}
    bad = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/recipients?status=gone")
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("status:")


async def test_hundred_thousand_csv_rows_through_the_route(api: Api) -> None:
    campaign_id = await api.campaign_in("draft", recipients=[])
    lines = ["email,first_name"] + [
        f"person{number}@example.org,N{number}" for number in range(100_000)
    ]
    lines += ["person5@example.org,again", "broken"]
    body = ("\n".join(lines) + "\n").encode()
    response = await api.call(
        "acme_admin", "POST", f"/campaigns/{campaign_id}/recipients", content=body, headers=CSV
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["duplicates"], len(report["invalid"])) == (100_000, 1, 1)
    campaign = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}")
    assert campaign.json()["recipientCount"] == 100_000
    assert campaign.json()["counts"] == {"pending": 100_000}
