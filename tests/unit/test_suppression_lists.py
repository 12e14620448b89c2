"""Suppression lists as CSV: rows read in chunks, invalid rows named, exports that read back."""

from __future__ import annotations

import io

import pytest

from campaignd.actions.text_files import csv_text
from campaignd.domain.recipients import (
    DEFAULT_LIMITS,
    InvalidRow,
    RecipientLimits,
    RecipientListError,
)
from campaignd.domain.suppressions import (
    check_rows,
    export_header,
    export_lines,
    suppression_chunks,
)


def chunks_of(
    text: str,
    *,
    default_reason: str = "manual",
    rows: int = 5_000,
    limits: RecipientLimits = DEFAULT_LIMITS,
) -> list[tuple[dict[str, str], int, list[InvalidRow]]]:
    lines = io.StringIO(text, newline="")
    chunks = suppression_chunks(lines, default_reason=default_reason, rows=rows, limits=limits)
    return [(chunk.entries, chunk.repeated, chunk.invalid) for chunk in chunks]


def test_rows_come_in_chunks_with_their_reasons() -> None:
    text = (
        "Name,EMAIL,Reason\n"
        "Ada,Ada@Example.com,BOUNCED\n"
        "Ada again,ada@example.com,complained\n"
        "\n"
        "Grace,grace@example.org,\n"
        "Linus,linus@example.net, unsubscribed \n"
    )
    assert chunks_of(text, default_reason="manual", rows=2) == [
        ({"ada@example.com": "bounced"}, 1, []),
        ({"grace@example.org": "manual", "linus@example.net": "unsubscribed"}, 0, []),
    ]


def test_a_file_without_a_reason_column_takes_the_default() -> None:
    assert chunks_of("email\nada@example.com\n", default_reason="complained") == [
        ({"ada@example.com": "complained"}, 0, [])
    ]


def test_invalid_rows_are_named_by_their_spreadsheet_row() -> None:
    text = 'email,reason\n"multi\nline",\nada@example.com,spam\n,bounced\nok@example.org,\n'
    [(entries, repeated, invalid)] = chunks_of(text)
    assert entries == {"ok@example.org": "manual"} and repeated == 0
    assert [(row.row, row.email) for row in invalid] == [
        (3, "multi\nline"),
        (4, "ada@example.com"),
        (5, ""),
    ]
    assert invalid[1].reason == (
        "reason 'spam' is not one of manual, unsubscribed, bounced, complained"
    )
    assert invalid[2].reason == "empty address"


def test_a_huge_invalid_address_is_reported_cut_short() -> None:
    huge = "x" * 5000
    [(_, _, invalid)] = chunks_of(f"email\n{huge}\n")
    assert len(invalid[0].email) == 320 and invalid[0].email.endswith("…")


def test_other_columns_are_not_held_to_the_limits_on_variables() -> None:
    limits = RecipientLimits(vars_keys=1, vars_bytes=256)
    text = "email,a,b,c\nada@example.com," + ",".join(["y" * 200] * 3) + "\n"
    assert chunks_of(text, limits=limits) == [({"ada@example.com": "manual"}, 0, [])]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "the CSV is empty"),
        ("name\nAda\n", 'no "email" column'),
        ('email\n"ada@example.com\n', "line 2: a quoted field opens here and is never closed"),
        ("email" + ",x" * 150 + "\n", "line 1: 151 columns; at most 100 are allowed"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_by_the_check(text: str, words: str) -> None:
    with pytest.raises(RecipientListError, match=words):
        check_rows(io.StringIO(text, newline=""))


def test_the_check_counts_the_rows() -> None:
    assert check_rows(io.StringIO("email\na@example.org\n\nb@example.org\n", newline="")) == 2


def test_an_export_reads_back_as_it_was() -> None:
    rows = [
        ("ada@example.com", "bounced", "2026-11-20T10:00:00Z"),
        ("o'hara+news@example.org", "manual", "2026-11-21T08:30:12Z"),
    ]
    text = export_header() + export_lines(rows)
    assert text.splitlines()[0] == "email,reason,created_at"
    assert text.endswith("\r\n")
    assert chunks_of(text) == [
        ({"ada@example.com": "bounced", "o'hara+news@example.org": "manual"}, 0, [])
    ]


def test_binary_files_are_read_as_utf8_without_the_byte_order_mark() -> None:
    raw = io.BytesIO("\ufeffemail\r\nzoë@example.org\r\n".encode())
    counted: list[int] = []
    [(entries, _, _)] = [
        (chunk.entries, chunk.repeated, chunk.invalid)
        for chunk in suppression_chunks(csv_text(raw, counted.append))
    ]
    assert entries == {"zoë@example.org": "manual"}
    assert sum(counted) == len(raw.getvalue())
