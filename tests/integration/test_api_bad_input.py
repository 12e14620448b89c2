"""Bad input of every kind answers a clear 4xx and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, campaign_body, future, open_api

LIMIT = 64 * 1024


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings, max_body_bytes=LIMIT) as handle:
        yield handle


PAST = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
NESTED_LOOPS = "{% for i in range(9000) %}{% for j in range(9000) %}x{% endfor %}{% endfor %}"
FORMAT_GADGET = "{{ ('{0.__globals__[os].environ[CAMPAIGND_JWT_SECRET]}'|attr('format'))(lipsum) }}"

JSON_CASES: dict[str, tuple[str, str, Any, int, str]] = {
    "unknown-field": ("POST", "/campaigns", campaign_body(colour="red"), 422, "colour: unknown"),
    "snake-and-unknown": (
        "POST",
        "/campaigns",
        campaign_body(sendAt=future()),
        422,
        "sendAt: unknown field",
    ),
    "naive-time": (
        "POST",
        "/campaigns",
        campaign_body(scheduledFor="2030-01-01T09:00:00"),
        422,
        "scheduledFor: needs a time zone offset",
    ),
    "unparseable-time": (
        "POST",
        "/campaigns",
        campaign_body(scheduledFor="next tuesday"),
        422,
        "scheduledFor: is not a valid ISO 8601 time",
    ),
    "past-time": (
        "POST",
        "/campaigns",
        campaign_body(scheduledFor=PAST),
        422,
        "scheduledFor:",
    ),
    "no-name": ("POST", "/campaigns", {"subject": "x", "textBody": "x"}, 422, "name: is required"),
    "empty-name": ("POST", "/campaigns", campaign_body(name="  "), 422, "name: must not be empty"),
    "long-name": ("POST", "/campaigns", campaign_body(name="x" * 201), 422, "name:"),
    "no-body": (
        "POST",
        "/campaigns",
        {"name": "x", "subject": "x"},
        422,
        "htmlBody or textBody",
    ),
    "bad-template": (
        "POST",
        "/campaigns",
        campaign_body(htmlBody="{% if %}"),
        422,
        "htmlBody:",
    ),
    "unsafe-template": (
        "POST",
        "/campaigns",
        campaign_body(textBody="{{ email.__class__ }}"),
        422,
        "textBody: unsafe",
    ),
    "template-nested-loops": (
        "POST",
        "/campaigns",
        campaign_body(textBody=NESTED_LOOPS),
        422,
        "textBody: goes over the limit of 100000 loop iterations",
    ),
    "template-huge-text": (
        "POST",
        "/campaigns",
        campaign_body(htmlBody='<p>{{ "x" * 100000000 }}</p>'),
        422,
        "htmlBody: a repeated text would be 100000000 characters, over the limit of 1000000",
    ),
    "template-format-gadget": (
        "POST",
        "/campaigns",
        campaign_body(textBody=FORMAT_GADGET),
        422,
        "textBody: there is no filter 'attr'",
    ),
    "edit-template-nested-loops": (
        "PATCH",
        "/campaigns/{id}",
        {"subject": NESTED_LOOPS},
        422,
        "subject: goes over the limit of 100000 loop iterations",
    ),
    "bad-from": (
        "POST",
        "/campaigns",
        campaign_body(fromAddress="not an address"),
        422,
        "fromAddress:",
    ),
    "from-with-line-break": (
        "POST",
        "/campaigns",
        campaign_body(fromAddress='"a\r\nBcc: victim@x.example"@evil.example <news@acme.example>'),
        422,
        "fromAddress: must not contain a line break",
    ),
    "from-with-bare-line-feed": (
        "POST",
        "/campaigns",
        campaign_body(fromAddress="News\n <news@acme.example>"),
        422,
        "fromAddress: must not contain a line break",
    ),
    "reply-to-two-addresses": (
        "POST",
        "/campaigns",
        campaign_body(replyTo="help@acme.example, victim@x.example"),
        422,
        "replyTo: exactly one address",
    ),
    "reply-to-two-mailboxes": (
        "POST",
        "/campaigns",
        campaign_body(replyTo="Help <help@acme.example>, Other <victim@x.example>"),
        422,
        "replyTo: exactly one address",
    ),
    "edit-from-with-line-break": (
        "PATCH",
        "/campaigns/{id}",
        {"fromAddress": "news@acme.example\r\nBcc: victim@x.example"},
        422,
        "fromAddress: must not contain a line break",
    ),
    "unknown-organization": (
        "POST",
        "/campaigns",
        campaign_body(organization="initech"),
        422,
        "organization:",
    ),
    "recipients-not-list": (
        "POST",
        "/campaigns",
        campaign_body(recipients="a@b.org"),
        422,
        "recipients:",
    ),
    "body-not-object": ("POST", "/campaigns", ["name"], 422, "body:"),
    "schedule-naive": (
        "POST",
        "/campaigns/{id}/schedule",
        {"scheduledFor": "2030-01-01 09:00"},
        422,
        "scheduledFor: needs a time zone offset",
    ),
    "schedule-past": (
        "POST",
        "/campaigns/{id}/schedule",
        {"scheduledFor": PAST},
        422,
        "in the past",
    ),
    "schedule-missing": (
        "POST",
        "/campaigns/{id}/schedule",
        {},
        422,
        "scheduledFor: give either scheduledFor or localTime (with timezone)",
    ),
    "schedule-extra": (
        "POST",
        "/campaigns/{id}/schedule",
        {"scheduledFor": future(), "force": True},
        422,
        "force: unknown field",
    ),
    "edit-status": ("PATCH", "/campaigns/{id}", {"status": "sent"}, 422, "status: unknown field"),
    "edit-nothing": ("PATCH", "/campaigns/{id}", {}, 422, "no field"),
    "edit-empty-subject": ("PATCH", "/campaigns/{id}", {"subject": ""}, 422, "subject:"),
    "recipients-extra": (
        "POST",
        "/campaigns/{id}/recipients",
        {"recipients": [], "replace": True},
        422,
        "replace: unknown field",
    ),
    "recipients-bad-item": (
        "POST",
        "/campaigns/{id}/recipients",
        {"recipients": [{"email": "a@b.org", "name": "A"}]},
        422,
        "recipients[0]",
    ),
    # an item may be an address or an object: its problem is said once, in the words of
    # what it is, never "must be a string" beside an object's own problems
    "recipients-misspelt-item": (
        "POST",
        "/campaigns",
        campaign_body(recipients=["a@b.org", {"emial": "c@d.org"}, 5]),
        422,
        "recipients[1].email: is required; recipients[1].emial: unknown field; "
        "recipients[2]: must be an address or an object with an email (and vars)",
    ),
    "unknown-id": ("GET", "/campaigns/999999", None, 404, "campaign 999999 not found"),
    "unknown-id-schedule": (
        "POST",
        "/campaigns/999999/schedule",
        {"scheduledFor": future()},
        404,
        "not found",
    ),
    "unknown-id-recipients": (
        "POST",
        "/campaigns/999999/recipients",
        {"recipients": ["a@b.org"]},
        404,
        "not found",
    ),
    "non-numeric-id": ("GET", "/campaigns/spring", None, 404, "not found"),
    "bad-status-filter": ("GET", "/campaigns?status=done", None, 422, "status:"),
    "bad-limit": ("GET", "/campaigns?limit=0", None, 422, "limit:"),
    "bad-hours": ("GET", "/campaigns/scheduled?hours=soon", None, 422, "hours:"),
    "suppression-bad-address": (
        "POST",
        "/suppressions",
        {"emails": ["fine@example.com", "not-an-address"]},
        422,
        "emails[1]",
    ),
    "suppression-bad-reason": (
        "POST",
        "/suppressions",
        {"emails": ["a@example.com"], "reason": "angry"},
        422,
        "reason:",
    ),
    "suppression-empty": ("POST", "/suppressions", {"emails": []}, 422, "emails:"),
}


@pytest.mark.parametrize("case", list(JSON_CASES))
async def test_bad_json_input_is_refused_and_changes_nothing(api: Api, case: str) -> None:
    method, path, body, status, words = JSON_CASES[case]
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    options = {} if body is None else {"json": body}
    response = await api.call("acme_admin", method, path.format(id=campaign_id), **options)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert words in detail, detail
    assert await api.snapshot() == before


RAW_CASES: dict[str, tuple[str, bytes, dict[str, str], int, str]] = {
    "malformed-json": (
        "/campaigns",
        b'{"name": ',
        {"content-type": "application/json"},
        400,
        "JSON",
    ),
    "trailing-comma": (
        "/campaigns",
        b'{"name": "x",}',
        {"content-type": "application/json"},
        400,
        "JSON",
    ),
    "form-encoded": (
        "/campaigns",
        b"name=x&subject=y",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "application/json",
    ),
    "text-plain": ("/campaigns", b"{}", {"content-type": "text/plain"}, 415, "application/json"),
    "schedule-xml": (
        "/campaigns/{id}/schedule",
        b"<when/>",
        {"content-type": "application/xml"},
        415,
        "application/json",
    ),
    "recipients-xml": (
        "/campaigns/{id}/recipients",
        b"<a/>",
        {"content-type": "application/xml"},
        415,
        "text/csv",
    ),
    "recipients-malformed-json": (
        "/campaigns/{id}/recipients",
        b"{recipients",
        {"content-type": "application/json"},
        400,
        "JSON",
    ),
    "recipients-empty": (
        "/campaigns/{id}/recipients",
        b"",
        {"content-type": "application/json"},
        400,
        "empty",
    ),
    "csv-no-email-column": (
        "/campaigns/{id}/recipients",
        b"name,address\nAda,ada@example.com\n",
        {"content-type": "text/csv"},
        422,
        'no "email" column: the header is "name, address"',
    ),
    "csv-empty": (
        "/campaigns/{id}/recipients",
        b"\n\n",
        {"content-type": "text/csv"},
        422,
        "empty",
    ),
    "csv-not-utf8": (
        "/campaigns/{id}/recipients",
        "email,name\nada@example.com,Zoë\n".encode("latin-1"),
        {"content-type": "text/csv"},
        400,
        "UTF-8",
    ),
}


@pytest.mark.parametrize("case", list(RAW_CASES))
async def test_bad_raw_bodies_are_refused_and_change_nothing(api: Api, case: str) -> None:
    path, body, headers, status, words = RAW_CASES[case]
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    response = await api.call(
        "acme_admin", "POST", path.format(id=campaign_id), content=body, headers=headers
    )
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert await api.snapshot() == before


async def test_declared_huge_body_is_413(api: Api) -> None:
    before = await api.snapshot()
    body = campaign_body(htmlBody="x" * (LIMIT + 1))
    response = await api.call("acme_admin", "POST", "/campaigns", json=body)
    assert response.status_code == 413
    assert str(LIMIT) in response.json()["detail"]
    assert await api.snapshot() == before


async def test_streamed_huge_body_is_413_without_content_length(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"email\n"
        for number in range(10_000):
            yield f"person{number}@example.com\n".encode()

    response = await api.call(
        "acme_admin",
        "POST",
        f"/campaigns/{campaign_id}/recipients",
        content=chunks(),
        headers={"content-type": "text/csv"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert await api.snapshot() == before


async def test_body_just_under_the_limit_is_accepted(api: Api) -> None:
    body = campaign_body(textBody="x" * (LIMIT - 1000))
    response = await api.call("acme_admin", "POST", "/campaigns", json=body)
    assert response.status_code == 201


async def test_unknown_route_and_method_answer_in_words(api: Api) -> None:
    missing = await api.call("acme_admin", "GET", "/campaign")
    assert missing.status_code == 404
    assert "/campaign" in missing.json()["detail"]
    wrong = await api.call("acme_admin", "PUT", "/campaigns")
    assert wrong.status_code == 405
    assert "PUT" in wrong.json()["detail"]


async def test_invalid_addresses_are_reported_with_row_and_reason(api: Api) -> None:
    response = await api.call(
        "acme_admin",
        "POST",
        "/campaigns",
        json=campaign_body(
            recipients=["ada@example.com", "nobody", {"email": "x@@y.org"}, "ADA@example.com"]
        ),
    )
    assert response.status_code == 201, response.text
    report = response.json()["import"]
    assert report["added"] == 1
    assert report["duplicates"] == 1
    assert [(item["row"], item["email"]) for item in report["invalid"]] == [
        (2, "nobody"),
        (3, "x@@y.org"),
    ]
    assert all(item["reason"] for item in report["invalid"])
    assert response.json()["recipientCount"] == 1
