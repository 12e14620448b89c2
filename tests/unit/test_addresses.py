"""Addresses are compared trimmed and lower-cased; invalid ones say why."""

from __future__ import annotations

import pytest

from campaignd.domain.addresses import InvalidAddress, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
        ("O'Brien@example.ie", "o'brien@example.ie"),
        ("ünï@exämple.com", "ünï@exämple.com"),
    ],
)
def test_normalised(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "no-at-sign", "a@", "@example.com", "a..b@example.com", "a@b"]
)
def test_invalid_addresses_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidAddress) as error:
        normalise(raw)
    assert str(error.value)
