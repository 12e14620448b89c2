"""The filter language: what is refused (with the JSON path), the canonical form, the words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from campaignd.domain.filters import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_GROUPS,
    MAX_VALUES,
    Contact,
    FilterError,
    describe,
    list_names,
    list_paths,
    matches,
    parse,
    to_json,
)

ISSUE_EXAMPLE = {
    "all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "country", "op": "in", "value": ["DE", "AT"]},
        {"attribute": "signed_up_at", "op": "after", "value": "now-30d"},
    ]
}
NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)


def refusal(document: Any) -> str:
    with pytest.raises(FilterError) as caught:
        parse(document)
    return str(caught.value)


def nested(depth: int) -> dict[str, Any]:
    document: dict[str, Any] = {"attribute": "plan", "op": "exists"}
    for _ in range(depth):
        document = {"all": [document]}
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "filter: must be an object"),
        ({}, 'filter: an empty object is not a filter; {"all": []} matches everyone'),
        ({"all": {"attribute": "a"}}, 'filter.all: "all" needs a list of filters'),
        (
            {"all": [{"attribute": "plan", "op": "eq", "value": "pro"}, 3]},
            "filter.all[1]: must be an object",
        ),
        (
            {"all": [{}, {}, {"attribute": "country", "op": "in", "value": "DE"}]},
            "filter.all[0]: an empty object",
        ),
        (
            {"all": [{"list": "a"}, {"list": "b"}, {"attribute": "c", "op": "in", "value": "DE"}]},
            'filter.all[2].value: "in" needs a list of values',
        ),
        ({"any": [{"not": {"op": "eq", "value": 1}}]}, "filter.any[0].not: a condition needs"),
        ({"attribute": "plan", "op": "equals", "value": 1}, 'filter.op: "equals" is not an op'),
        ({"attribute": "plan", "value": 1}, "filter.op: is required"),
        ({"attribute": "plan", "op": "eq"}, 'filter.value: is required for "eq"'),
        ({"attribute": "plan", "op": "exists", "value": True}, '"exists" takes no value'),
        ({"attribute": "plan", "op": "eq", "value": None}, 'use "missing" or "exists"'),
        ({"attribute": "plan", "op": "eq", "value": {"a": 1}}, "a string, a number or a boolean"),
        ({"attribute": "plan", "op": "eq", "value": "pro", "extra": 1}, "filter.extra: unknown"),
        ({"attribute": "first name", "op": "exists"}, '"first name" is not an attribute name'),
        ({"attribute": "1st", "op": "exists"}, "not starting with a digit"),
        ({"attribute": "a" * 65, "op": "exists"}, "at most 64 characters"),
        ({"attribute": 5, "op": "exists"}, "filter.attribute: must be a string"),
        ({"attribute": "age", "op": "gt", "value": "18"}, 'needs a number; for dates use "before"'),
        ({"attribute": "age", "op": "gt", "value": True}, '"gt" needs a number'),
        ({"attribute": "age", "op": "gt", "value": 2**53 + 1}, "numbers in a filter lie between"),
        ({"attribute": "age", "op": "gt", "value": float("inf")}, "numbers in a filter lie"),
        ({"attribute": "plan", "op": "contains", "value": ""}, "needs a non-empty string"),
        ({"attribute": "plan", "op": "eq", "value": "a\x00b"}, "must not contain NUL"),
        ({"attribute": "plan", "op": "eq", "value": "\ud800"}, "is not valid Unicode text"),
        ({"attribute": "plan", "op": "eq", "value": "x" * 1001}, "at most 1000 characters"),
        ({"attribute": "plan", "op": "in", "value": list(range(1001))}, "at most 1000 values"),
        ({"attribute": "plan", "op": "in", "value": []}, '"in" needs a list of values'),
        ({"attribute": "plan", "op": "in", "value": ["a", None]}, "filter.value[1]: null"),
        ({"attribute": "d", "op": "after", "value": "yesterday"}, '"yesterday" is not a date'),
        ({"attribute": "d", "op": "after", "value": "2026-02-30"}, '"2026-02-30" is not a date'),
        ({"attribute": "d", "op": "after", "value": "2026-11-05T09:00"}, "needs a time zone"),
        ({"attribute": "d", "op": "after", "value": "now-99999w"}, "at most 100 years"),
        ({"attribute": "d", "op": "after", "value": "now-3mo"}, "is not a date"),
        ({"attribute": "d", "op": "before", "value": 20261105}, '"before" needs a date'),
        ({"field": "phone", "op": "eq", "value": "1"}, '"phone" is not a contact field'),
        ({"field": "createdAt", "op": "eq", "value": "x"}, '"eq" does not apply to createdAt'),
        ({"field": "email", "op": "exists"}, '"exists" does not apply to email'),
        ({"field": "email", "op": "eq", "value": "not-an-address"}, "is not a valid address"),
        ({"field": "email", "op": "in", "value": [1]}, 'filter.value[0]: "in" on email needs'),
        ({"list": ""}, "filter.list: must be a list's name"),
        ({"list": "news", "status": "confirmed"}, "filter.status: unknown key"),
        ({"plan": "pro"}, 'filter.plan: unknown key; a filter is {"all"'),
        ({"k" * 10_000: 1}, f"filter.{'k' * 37}...: unknown key"),
    ],
)
def test_refusals_name_the_path(document: Any, message: str) -> None:
    assert message in refusal(document)


def test_depth_and_size_limits() -> None:
    parse(nested(MAX_DEPTH))
    assert f"nest more than {MAX_DEPTH} levels" in refusal(nested(MAX_DEPTH + 1))
    many = {"any": [{"list": f"l{number}"} for number in range(MAX_CONDITIONS)]}
    parse(many)
    many["any"].append({"list": "one too many"})
    assert refusal(many) == (
        f"filter.any[{MAX_CONDITIONS}]: a filter holds at most {MAX_CONDITIONS} conditions"
    )
    groups = {"any": [{"not": {"list": "a"}} for _ in range(MAX_GROUPS)]}
    assert refusal(groups) == f"filter.any[99]: a filter holds at most {MAX_GROUPS} groups"
    values = {"any": [{"attribute": "a", "op": "in", "value": list(range(1000))}] * 6}
    assert refusal(values) == (
        f"filter.any[5].value: a filter holds at most {MAX_VALUES} values in all its lists"
    )
    long = parse({"attribute": "a", "op": "in", "value": list(range(1000))})
    assert describe(long) == "a in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... 990 more]"


def test_canonical_form_round_trips_and_normalises() -> None:
    document = {
        "any": [
            ISSUE_EXAMPLE,
            {"not": {"list": "newsletter"}},
            {"field": "email", "op": "in", "value": ["Ada@Example.COM"]},
            {"field": "createdAt", "op": "before", "value": "2026-11-05T10:00:00+01:00"},
            {"attribute": "vip", "op": "eq", "value": True},
            {"attribute": "age", "op": "gte", "value": 18.5},
            {"attribute": "phone", "op": "missing"},
            {"all": []},
        ]
    }
    node = parse(document)
    canonical = to_json(node)
    assert parse(canonical) == node
    assert canonical["any"][0] == ISSUE_EXAMPLE
    assert canonical["any"][2]["value"] == ["ada@example.com"]
    assert canonical["any"][3]["value"] == "2026-11-05T09:00:00Z"
    assert list_names(node) == ["newsletter"]
    assert list(list_paths(node)) == [("filter.any[1].not.list", "newsletter")]


def test_words() -> None:
    assert describe(parse(ISSUE_EXAMPLE)) == (
        'plan = "pro" and country in ["DE", "AT"] and signed_up_at after "now-30d"'
    )
    assert describe(parse({"all": []})) == "everyone"
    assert describe(
        parse({"not": {"any": [{"list": "a"}, {"attribute": "x", "op": "missing"}]}})
    ) == ('not (member of list "a" or x is missing)')


def contact(**attributes: Any) -> Contact:
    return Contact(
        email="ada@acme.com",
        attributes=attributes,
        source=None,
        created_at=NOW,
        lists=frozenset({"newsletter"}),
    )


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        ({"op": "eq", "value": 5}, {"x": 5.0}, True),
        ({"op": "eq", "value": 5}, {"x": "5"}, False),
        ({"op": "eq", "value": 1}, {"x": True}, False),
        ({"op": "eq", "value": True}, {"x": 1}, False),
        ({"op": "ne", "value": "pro"}, {}, True),
        ({"op": "ne", "value": "pro"}, {"x": None}, True),
        ({"op": "gt", "value": 1}, {"x": "2"}, False),
        ({"op": "exists"}, {"x": None}, False),
        ({"op": "exists"}, {"x": ""}, True),
        ({"op": "contains", "value": "PRO"}, {"x": "Pro plan"}, True),
        ({"op": "contains", "value": "É"}, {"x": "émile"}, False),
        ({"op": "after", "value": "2026-11-05"}, {"x": "2026-11-05T23:00:00Z"}, False),
        ({"op": "after", "value": "2026-11-04"}, {"x": "2026-11-05T00:00:00Z"}, True),
        ({"op": "before", "value": "2026-11-05T00:00:01Z"}, {"x": "2026-11-05"}, True),
        ({"op": "after", "value": "now-30d"}, {"x": "2026-10-07"}, True),
        ({"op": "after", "value": "now-30d"}, {"x": "2026-10-06"}, False),
        ({"op": "after", "value": "2020-01-01"}, {"x": "soon"}, False),
    ],
)
def test_meaning(condition: dict[str, Any], attributes: dict[str, Any], expected: bool) -> None:
    node = parse({"attribute": "x", **condition})
    assert matches(node, contact(**attributes), now=NOW) is expected


def test_the_issue_example() -> None:
    node = parse({"all": [*ISSUE_EXAMPLE["all"], {"list": "newsletter"}]})
    pro = contact(plan="pro", country="AT", signed_up_at="2026-10-20T08:00:00Z")
    assert matches(node, pro, now=NOW)
    assert not matches(node, contact(plan="pro", country="FR", signed_up_at="2026-11-01"), now=NOW)
    assert not matches(node, contact(plan="pro", country="DE", signed_up_at="2026-01-01"), now=NOW)


def test_a_renamed_list_is_renamed_wherever_a_filter_names_it() -> None:
    from campaignd.domain.filters import with_list_renamed

    stored = {
        "all": [
            {"list": "news"},
            {"not": {"list": "news"}},
            {"any": [{"list": "other"}, {"attribute": "list", "op": "eq", "value": "news"}]},
        ]
    }
    assert with_list_renamed(stored, "news", "Weekly") == {
        "all": [
            {"list": "Weekly"},
            {"not": {"list": "Weekly"}},
            {"any": [{"list": "other"}, {"attribute": "list", "op": "eq", "value": "news"}]},
        ]
    }
    assert with_list_renamed(stored, "nothing", "x") == stored
