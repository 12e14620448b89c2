"""Recipient lists from CSV and JSON: the edge cases real spreadsheets produce."""

from __future__ import annotations

import pytest

from campaignd.domain.recipients import RecipientListError, from_csv, from_json


def test_byte_order_mark_and_header_case_are_ignored() -> None:
    result = from_csv("\ufeffEMAIL,Name\nada@example.com,Ada\n")
    assert result.recipients == {"ada@example.com": {"name": "Ada"}}


def test_quoted_fields_may_hold_commas_quotes_and_newlines() -> None:
    text = 'email,note\n"ada@example.com","a, b ""c""\nsecond line"\ngrace@example.org,plain\n'
    result = from_csv(text)
    assert result.recipients["ada@example.com"] == {"note": 'a, b "c"\nsecond line'}
    assert result.recipients["grace@example.org"] == {"note": "plain"}


def test_row_numbers_count_physical_lines_like_a_spreadsheet() -> None:
    text = 'email,note\n"ok@example.com","two\nlines"\nbroken,x\n'
    result = from_csv(text)
    assert [(row.row, row.email) for row in result.invalid] == [(4, "broken")]


def test_blank_lines_and_empty_rows_are_skipped() -> None:
    text = "\n\nemail,name\n\nada@example.com,Ada\n , \n\r\ngrace@example.org,Grace\n\n"
    result = from_csv(text)
    assert list(result.recipients) == ["ada@example.com", "grace@example.org"]
    assert result.invalid == []


def test_crlf_line_endings() -> None:
    result = from_csv("email,name\r\nada@example.com,Ada\r\n")
    assert result.recipients == {"ada@example.com": {"name": "Ada"}}


def test_short_and_long_rows() -> None:
    result = from_csv("name,email,city\nAda,ada@example.com\nGrace,grace@example.org,Paris,extra\n")
    assert result.recipients["ada@example.com"] == {"name": "Ada", "city": ""}
    assert result.recipients["grace@example.org"] == {"name": "Grace", "city": "Paris"}


def test_missing_email_column_is_an_error_for_the_whole_list() -> None:
    with pytest.raises(RecipientListError, match="'email' column"):
        from_csv("name,address\nAda,ada@example.com\n")


@pytest.mark.parametrize("text", ["", "\n\n", "\ufeff", " , \n"])
def test_empty_list_is_an_error(text: str) -> None:
    with pytest.raises(RecipientListError, match="empty"):
        from_csv(text)


def test_header_only_is_an_empty_list() -> None:
    result = from_csv("email\n")
    assert (result.recipients, result.duplicates, result.invalid) == ({}, 0, [])


def test_duplicates_are_compared_normalised() -> None:
    result = from_csv("email\nAda@Example.com\n ada@example.com \nADA@EXAMPLE.COM\n")
    assert list(result.recipients) == ["ada@example.com"]
    assert result.duplicates == 2


def test_invalid_addresses_have_row_email_and_reason() -> None:
    result = from_csv("email\nada@example.com\nnot-an-address\n\nx@@example.com\n")
    assert [(row.row, row.email) for row in result.invalid] == [
        (3, "not-an-address"),
        (5, "x@@example.com"),
    ]
    assert all(row.reason for row in result.invalid)


def test_missing_address_in_a_row_with_other_cells_is_invalid() -> None:
    result = from_csv("email,name\n,Ada\n")
    assert [(row.row, row.email, row.reason) for row in result.invalid] == [
        (2, "", "empty address")
    ]


def test_international_addresses() -> None:
    result = from_csv("email\nzoë@exämple.com\n用户@例子.广告\n")
    assert len(result.recipients) == 2


def test_hundred_thousand_rows() -> None:
    lines = ["email,first_name"] + [f"person{n}@example{n % 50}.org,N{n}" for n in range(100_000)]
    lines += ["person7@example7.org,again", "nobody"]
    result = from_csv("\n".join(lines) + "\n")
    assert len(result.recipients) == 100_000
    assert result.duplicates == 1
    assert [row.email for row in result.invalid] == ["nobody"]
    assert result.recipients["person99999@example49.org"] == {"first_name": "N99999"}


def test_json_strings_objects_and_wrong_items() -> None:
    result = from_json(
        [
            "ada@example.com",
            {"email": "grace@example.org", "vars": {"first_name": "Grace"}},
            {"email": "x@example.com", "vars": ["not", "an", "object"]},
            42,
            {"email": None},
        ]
    )
    assert result.recipients == {
        "ada@example.com": {},
        "grace@example.org": {"first_name": "Grace"},
    }
    assert [row.row for row in result.invalid] == [3, 4, 5]
