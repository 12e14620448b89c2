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
    header_delimiter,
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
    with pytest.raises(RecipientListError, match=r'^no "email" column: the header is "name, addr'):
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


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        ("email,first_name\n", ","),
        ("email;first_name\n", ";"),
        ("email\tfirst_name\r\n", "\t"),
        ("email\n", ","),
        ("", ","),
        ('email,"last; first; middle"\n', ","),
        ('"name, first";email\n', ";"),
        ('"say ""a,b,c"" here";email\n', ";"),
        ("email;name;city,country\n", ";"),
        ("email;name,city\n", ","),
        ("email\tname;city\n", ";"),
    ],
)
def test_the_header_line_decides_the_separator(line: str, delimiter: str) -> None:
    assert header_delimiter(line) == delimiter


def test_a_semicolon_file_is_read_with_semicolons() -> None:
    text = "\ufeffEmail;First_Name;City\r\nada@example.com;Ada;Paris, France\r\nbad;x;y\r\n"
    result = from_csv(text)
    assert result.recipients == {"ada@example.com": {"first_name": "Ada", "city": "Paris, France"}}
    assert [(row.row, row.email) for row in result.invalid] == [(3, "bad")]


def test_a_tab_separated_file_is_read_with_tabs() -> None:
    result = from_csv("email\tnote\nada@example.com\tone, two; three\n")
    assert result.recipients == {"ada@example.com": {"note": "one, two; three"}}


def test_a_quoted_semicolon_in_a_comma_header_keeps_commas() -> None:
    result = from_csv('email,"a;b;c"\nada@example.com,x;y;z\n')
    assert result.recipients == {"ada@example.com": {"a;b;c": "x;y;z"}}


def test_data_rows_never_change_the_separator() -> None:
    result = from_csv("email\nada@example.com;Ada;Paris\ngrace@example.org\n")
    assert list(result.recipients) == ["grace@example.org"]
    assert [row.email for row in result.invalid] == ["ada@example.com;Ada;Paris"]


def test_blank_lines_before_a_semicolon_header_keep_row_numbers() -> None:
    result = from_csv("\n \n\ufeff\nemail;name\nada@example.com;Ada\nbroken;B\n")
    assert result.recipients == {"ada@example.com": {"name": "Ada"}}
    assert [(row.row, row.email) for row in result.invalid] == [(6, "broken")]


def test_names_are_matched_trimmed_in_any_case_and_without_a_byte_order_mark() -> None:
    result = from_csv("\ufeff\ufeff Email ; First Name \nada@example.com;Ada\n")
    assert result.recipients == {"ada@example.com": {"first name": "Ada"}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Email Address,First Name\nada@example.com,Ada\n",
            'no "email" column: the header is "Email Address, First Name"; '
            'rename "Email Address" to "email"',
        ),
        (
            "\ufeffE-Mail;Vorname\nada@example.com;Ada\n",
            'no "email" column: the header is "E-Mail; Vorname" (separated by ";"); '
            'rename "E-Mail" to "email"',
        ),
        (
            "name\t e_mail \n",
            'no "email" column: the header is "name | e_mail" (separated by tabs); '
            'rename "e_mail" to "email"',
        ),
        (
            "Mail,Email Address\n",
            'no "email" column: the header is "Mail, Email Address"; '
            'rename the one of "Mail" or "Email Address" that holds the addresses to "email"',
        ),
        (
            "name,address\n",
            'no "email" column: the header is "name, address"; '
            'name the column that holds the addresses "email"',
        ),
        (
            "email;name,city\n",
            'no "email" column: the header is "email;name, city"; it is read as separated by '
            '"," (the separator its line uses most) but also holds ";": separate every column '
            'with the same one, and name the address column "email"',
        ),
    ],
)
def test_a_header_without_email_says_what_it_holds_and_what_to_rename(
    text: str, message: str
) -> None:
    with pytest.raises(RecipientListError) as raised:
        from_csv(text)
    assert str(raised.value) == message


def test_a_long_header_is_shown_cut_short() -> None:
    names = ["x" * 100] + [f"column{number}" for number in range(1, 30)]
    with pytest.raises(RecipientListError) as raised:
        from_csv(",".join(names) + "\n")
    message = str(raised.value)
    assert message.startswith('no "email" column: the header is "' + "x" * 39 + "…, column1, ")
    assert 'column11, … 18 more"; name the column' in message
    assert len(message) < 300


def test_a_name_twice_is_refused_naming_it_and_its_columns() -> None:
    with pytest.raises(RecipientListError) as raised:
        from_csv("email,Name, first ,name,First\nada@example.com,A,B,C,D\n")
    assert str(raised.value) == (
        'the header repeats column names: "name" is columns 2 and 4, "first" is columns 3 '
        "and 5; give each column its own name (names are compared trimmed and in any case)"
    )
    with pytest.raises(RecipientListError, match=r'^the header repeats a column name: "email"'):
        from_csv("Email;email\n")


def test_empty_names_are_not_repeated_names() -> None:
    result = from_csv("email,,\nada@example.com,x,y\n")
    assert result.recipients == {"ada@example.com": {}}


def test_every_chunk_of_a_file_keeps_the_separator_of_its_header(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    lines = ["email;note"] + [f"person{n}@example.com;a,b,c,{n}" for n in range(5)]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    assert check_header(path).delimiter == ";"
    chunks = list(csv_chunks(path, rows=2))
    assert [len(chunk.recipients) for chunk in chunks] == [2, 2, 1]
    assert chunks[2].recipients == {"person4@example.com": {"note": "a,b,c,4"}}
    assert all(not chunk.invalid for chunk in chunks)


def test_the_cli_checks_a_header_in_the_same_words(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("E-Mail;Vorname\nada@example.com;Ada\n", encoding="utf-8-sig")
    with pytest.raises(RecipientListError) as raised:
        check_header(path)
    assert str(raised.value) == (
        'no "email" column: the header is "E-Mail; Vorname" (separated by ";"); '
        'rename "E-Mail" to "email"'
    )
