"""Contacts as they arrive: attributes checked with errors that name the field, CSV and
JSON Lines read into batches with invalid addresses reported by row."""

from __future__ import annotations

import io

import pytest

from campaignd.domain.audience import ContactStatus
from campaignd.domain.contacts import (
    ContactError,
    ContactFormat,
    batches,
    checked_attributes,
    csv_contacts,
    incoming_rows,
    json_lines,
)
from campaignd.domain.recipients import RecipientLimits


def lines(text: str) -> io.StringIO:
    return io.StringIO(text, newline="")


def refusal(value: object, limits: RecipientLimits | None = None) -> str:
    with pytest.raises(ContactError) as caught:
        checked_attributes(value, limits or RecipientLimits())
    return str(caught.value)


def test_flat_scalar_attributes_are_accepted_and_null_is_kept_for_the_store() -> None:
    attributes = {"first_name": "Ada", "age": 36, "score": 9.5, "vip": True, "_old": None}
    assert checked_attributes(attributes) == attributes
    assert checked_attributes({"since": "2026-03-01T09:00:00Z"}) == {
        "since": "2026-03-01T09:00:00Z"
    }


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"first-name": "Ada"}, 'attributes: "first-name" is not a valid name'),
        ({"1st": "x"}, 'attributes: "1st" is not a valid name'),
        ({"x" * 65: 1}, "is not a valid name"),
        ({"address": {"city": "Paris"}}, "attributes.address: must be a string, a number"),
        (
            {"tags": ["a", "b"]},
            "attributes.tags: must be a string, a number or true/false, not a list",
        ),
        ({"score": float("nan")}, "attributes.score: must be a finite number"),
        ({"id": 2**60}, "attributes.id: whole numbers beyond"),
        ({"note": "a\x00b"}, "attributes.note: must not contain the NUL character"),
        ({"note": "\ud800"}, "attributes.note: must be valid Unicode text"),
        ("plan=pro", "attributes: must be an object"),
    ],
)
def test_each_bad_attribute_is_named(attributes: object, message: str) -> None:
    assert message in refusal(attributes)


def test_attribute_limits_come_from_the_recipient_limits() -> None:
    few = RecipientLimits(vars_keys=2, vars_bytes=256)
    assert "3 attributes, more than the limit of 2 per contact" in refusal(
        {"a": 1, "b": 2, "c": 3}, few
    )
    assert "bytes as JSON, more than the limit of 256 bytes" in refusal({"a": "x" * 300}, few)


def test_csv_columns_are_attributes_by_their_own_name_and_empty_cells_set_nothing() -> None:
    text = "Email,first_name,Plan,\nada@example.com,Ada,,\n\n grace@example.org ,Grace,pro,x\n"
    rows = list(csv_contacts(lines(text)))
    assert [(row.row, row.email, row.attributes) for row in rows] == [
        (2, "ada@example.com", {"first_name": "Ada"}),
        (4, " grace@example.org ", {"first_name": "Grace", "Plan": "pro"}),
    ]
    assert all(row.status is None for row in rows)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,city\nAda,Paris\n", "no 'email' column"),
        ("email,first name\na@example.com,Ada\n", 'the column "first name" is not a valid'),
        ("email,plan,plan\na@example.com,a,b\n", 'the column "plan" appears twice'),
        ("", "the CSV is empty"),
        ('email,plan\na@example.com,"pro\n', "line 2: a quoted field opens here"),
    ],
)
def test_a_csv_that_cannot_be_read_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(ContactError, match=message):
        list(csv_contacts(lines(text)))


def test_json_lines_carry_types_and_a_status() -> None:
    text = (
        '{"email": "ada@example.com", "attributes": {"age": 36, "vip": true}}\n'
        "\n"
        '{"email": "grace@example.org", "status": "unsubscribed"}\n'
    )
    rows = list(json_lines(lines(text)))
    assert [(row.row, row.email, row.attributes, row.status) for row in rows] == [
        (1, "ada@example.com", {"age": 36, "vip": True}, None),
        (3, "grace@example.org", {}, ContactStatus.UNSUBSCRIBED),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 2: not valid JSON"),
        ('["a@example.com"]', "line 2: must be an object"),
        ('{"email": "a@example.com", "name": "A"}', 'line 2: "name" is not a field of a contact'),
        ('{"attributes": {}}', "line 2: email: is required"),
        ('{"email": 5}', "line 2: email: must be a string"),
        ('{"email": "a@example.com", "status": "gone"}', "line 2: status: must be one of"),
        ('{"email": "a@example.com", "attributes": {"a": {}}}', "line 2: attributes.a:"),
    ],
)
def test_a_bad_json_line_stops_the_file_naming_its_line(line: str, message: str) -> None:
    text = '{"email": "ok@example.com"}\n' + line + "\n"
    with pytest.raises(ContactError, match=message):
        list(json_lines(lines(text)))


def test_batches_report_invalid_addresses_by_row_and_normalise_the_others() -> None:
    text = "email,plan\nAda@Example.COM,pro\nnot-an-address,x\ngrace@example.org,free\n"
    found = list(batches(incoming_rows(ContactFormat.CSV, lines(text)), 2))
    assert len(found) == 2
    assert [row.email for row in found[0].contacts] == ["ada@example.com"]
    assert [(row.row, row.email) for row in found[0].invalid] == [(3, "not-an-address")]
    assert "@-sign" in found[0].invalid[0].reason
    assert [row.email for row in found[1].contacts] == ["grace@example.org"]
    assert found[1].last_row == 4
