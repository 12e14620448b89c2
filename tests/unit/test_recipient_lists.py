"""Recipient lists from CSV and JSON: the edge cases real spreadsheets produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaignd.cli.recipient_files import check_header, csv_chunks
from campaignd.domain.recipients import (
    RecipientLimits,
    RecipientListError,
    from_csv,
    from_json,
    vars_problem,
)


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


def test_an_unterminated_quote_names_the_line_where_the_field_opens() -> None:
    text = 'email,name\nada@example.com,Ada\n\ngrace@example.org,"Grace\nbob@example.net,Bob\n'
    with pytest.raises(RecipientListError, match=r"^line 4: a quoted field opens here"):
        from_csv(text)


@pytest.mark.parametrize(
    "text",
    [
        'email,note\nada@example.com,"closed at the end"',
        "email,note\nada@example.com,no newline at the end",
        'email,note\nada@example.com,"two\nlines"\n',
        'email,note\r\nada@example.com,"x"\r\n',
    ],
)
def test_files_that_end_without_an_open_quote_are_fine(text: str) -> None:
    assert list(from_csv(text).recipients) == ["ada@example.com"]


def test_csv_limits_name_the_line_and_the_limit() -> None:
    limits = RecipientLimits(csv_columns=3, csv_field_chars=300, vars_bytes=512)
    with pytest.raises(RecipientListError, match=r"^line 1: 4 columns; at most 3 are allowed$"):
        from_csv("email,a,b,c\n", limits)
    with pytest.raises(RecipientListError, match=r"^line 3: 5 columns"):
        from_csv("email,a\nx@example.com,1\ny@example.com,1,2,3,4\n", limits)
    with pytest.raises(RecipientListError, match=r"^line 2: a field is longer than 300"):
        from_csv("email,a\nx@example.com," + "x" * 301 + "\n", limits)
    with pytest.raises(RecipientListError, match=r"^line 2: the row's variables: .* 512 bytes"):
        from_csv("email,a,b\nx@example.com," + "x" * 290 + "," + "y" * 290 + "\n", limits)


def test_a_field_beyond_the_csv_modules_own_limit_is_named_too() -> None:
    text = 'email,a\nx@example.com,"' + "x" * 200_000 + '"\n'
    with pytest.raises(RecipientListError, match=r"^line 2: a field is longer than 65536"):
        from_csv(text)


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"a": {"b": {"c": 1}}}, "nested more than 2 levels deep"),
        ({"a": [[1]]}, "nested more than 2 levels deep"),
        ({"a": 1, "b": 2, "c": 3, "d": 4}, "4 keys, more than the limit of 3"),
        ({"a": "é" * 300}, "609 bytes as JSON, more than the limit of 512 bytes"),
    ],
)
def test_json_vars_beyond_a_limit_refuse_the_list(variables: dict[str, object], words: str) -> None:
    limits = RecipientLimits(vars_depth=2, vars_keys=3, vars_bytes=512)
    with pytest.raises(RecipientListError, match=rf"^recipients\[1\]\.vars: {words}"):
        from_json(["ok@example.com", {"email": "x@example.com", "vars": variables}], limits)


def test_vars_within_the_limits_pass() -> None:
    limits = RecipientLimits(vars_depth=2, vars_keys=3, vars_bytes=512)
    result = from_json([{"email": "x@example.com", "vars": {"a": {"b": 1}, "c": [1, 2]}}], limits)
    assert result.recipients == {"x@example.com": {"a": {"b": 1}, "c": [1, 2]}}


def test_a_deep_structure_is_measured_without_recursion() -> None:
    deep: dict[str, object] = {}
    current = deep
    for _ in range(100_000):
        current["a"] = {}
        current = current["a"]  # type: ignore[assignment]
    assert vars_problem(deep, RecipientLimits()) == (
        "nested more than 10 levels deep, the limit per recipient"
    )


def test_the_cli_reads_files_with_the_same_parser(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text('email,name\nada@example.com,Ada\ngrace@example.org,"Grace\n')
    with pytest.raises(RecipientListError, match=r"^line 3: a quoted field opens here"):
        list(csv_chunks(path))
    path.write_text("email," + ",".join(["c"] * 150) + "\n")
    with pytest.raises(RecipientListError, match="151 columns"):
        check_header(path)
