"""Engagement conditions of the filter language: what is refused (with the JSON path), the
canonical form, the words, and what they mean for a contact's messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaignd.domain.filters import (
    MAX_CONDITIONS,
    Activity,
    All,
    Contact,
    Engaged,
    FilterError,
    Message,
    Tracked,
    Window,
    campaign_paths,
    describe,
    matches,
    parse,
    to_json,
)

NOW = datetime(2026, 11, 5, 12, 0, 30, 500_000, tzinfo=UTC)


def refusal(document: Any) -> str:
    with pytest.raises(FilterError) as caught:
        parse(document)
    return str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"engagement": "viewed"},
            'filter.engagement: "viewed" is not an engagement; one of "sent", "opened", "clicked"',
        ),
        ({"engagement": None}, 'filter.engagement: "None" is not an engagement'),
        (
            {"all": [{"list": "a"}, {"engagement": "opened", "campaign": ""}]},
            "filter.all[1].campaign: must be a campaign's name (leave it out for any campaign)",
        ),
        ({"engagement": "opened", "campaign": 7}, "filter.campaign: must be a campaign's name"),
        ({"engagement": "opened", "campaign": "x" * 201}, "filter.campaign: at most 200"),
        ({"engagement": "opened", "campaign": "a\x00b"}, "must not contain NUL"),
        (
            {"not": {"engagement": "clicked", "within": "30 days"}},
            'filter.not.within: "30 days" is not a time window: a number and h, d or w: '
            '"12h", "30d", "2w" (leave it out for ever)',
        ),
        ({"engagement": "clicked", "within": "now-30d"}, '"now-30d" is not a time window'),
        ({"engagement": "clicked", "within": 30}, 'filter.within: "30" is not a time window'),
        ({"engagement": "clicked", "within": "3mo"}, '"3mo" is not a time window'),
        ({"engagement": "clicked", "within": "0d"}, "filter.within: an empty window"),
        ({"engagement": "clicked", "within": "99999w"}, "at most 100 years back"),
        (
            {"engagement": "opened", "campaign": "Spring", "machine": True},
            'filter.machine: unknown key here (this filter takes "campaign", "engagement", '
            '"within")',
        ),
        (
            {"any": [{"campaign": "Spring", "within": "30d"}]},
            'filter.any[0].engagement: is required: "sent", "opened" or "clicked"',
        ),
        (
            {"attribute": "plan", "op": "exists", "within": "30d"},
            "filter.within: unknown key here",
        ),
    ],
)
def test_refusals_name_the_path(document: Any, message: str) -> None:
    assert message in refusal(document)


def test_canonical_form_round_trips() -> None:
    document = {
        "all": [
            {"engagement": "clicked", "within": "090d"},
            {"not": {"engagement": "opened", "campaign": "Welcome"}},
            {"any": [{"engagement": "sent", "campaign": "Spring sale", "within": "2w"}]},
        ]
    }
    node = parse(document)
    canonical = to_json(node)
    assert parse(canonical) == node
    assert canonical["all"][0] == {"engagement": "clicked", "within": "90d"}
    assert canonical["all"][1] == {"not": {"engagement": "opened", "campaign": "Welcome"}}
    assert isinstance(node, All)
    assert node.filters[0] == Engaged(Activity.CLICKED, None, Window(90 * 86_400, "90d"))
    assert list(campaign_paths(node)) == [
        ("filter.all[1].not.campaign", "Welcome"),
        ("filter.all[2].any[0].campaign", "Spring sale"),
    ]


def test_engagement_conditions_count_towards_the_limit() -> None:
    many = {"any": [{"engagement": "sent"} for _ in range(MAX_CONDITIONS)]}
    parse(many)
    many["any"].append({"engagement": "opened"})
    assert f"at most {MAX_CONDITIONS} conditions" in refusal(many)


def test_words() -> None:
    assert describe(
        parse({"engagement": "opened", "campaign": "Spring sale", "within": "30d"})
    ) == ('opened "Spring sale" in the last 30 days')
    assert describe(
        parse(
            {
                "all": [
                    {"engagement": "clicked", "within": "90d"},
                    {"not": {"engagement": "opened", "campaign": "Welcome"}},
                ]
            }
        )
    ) == ('clicked any campaign in the last 90 days and not opened "Welcome"')
    assert describe(parse({"engagement": "sent", "within": "1d"})) == (
        "received any campaign in the last day"
    )
    assert describe(parse({"engagement": "sent", "within": "12h"})) == (
        "received any campaign in the last 12 hours"
    )
    assert describe(parse({"engagement": "clicked", "campaign": 'Say "hi"', "within": "1w"})) == (
        'clicked "Say \\"hi\\"" in the last week'
    )


def person(*messages: Message) -> Contact:
    return Contact(
        email="ada@acme.com",
        attributes={},
        source=None,
        created_at=NOW,
        lists=frozenset(),
        messages=messages,
    )


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


SPRING = Message(
    "Spring sale",
    "sent",
    sent_at=ago(days=40),
    events=(
        Tracked("open", ago(days=39)),
        Tracked("click", ago(days=10)),
    ),
)
PROXY_ONLY = Message(
    "Welcome",
    "sent",
    sent_at=ago(days=2),
    events=(
        Tracked("open", ago(days=2), machine=True),
        Tracked("click", ago(days=2), machine=True),
    ),
)


@pytest.mark.parametrize(
    ("document", "messages", "expected"),
    [
        ({"engagement": "sent"}, (), False),
        ({"engagement": "sent"}, (SPRING,), True),
        ({"engagement": "sent", "campaign": "Spring sale"}, (SPRING,), True),
        ({"engagement": "sent", "campaign": "spring sale"}, (SPRING,), False),
        ({"engagement": "sent", "within": "30d"}, (SPRING,), False),
        ({"engagement": "sent", "within": "41d"}, (SPRING,), True),
        ({"engagement": "opened", "within": "30d"}, (SPRING,), False),
        ({"engagement": "clicked", "within": "30d"}, (SPRING,), True),  # the click's time counts
        ({"engagement": "clicked", "within": "10d"}, (SPRING,), True),  # to the second, inclusive
        ({"engagement": "clicked", "within": "239h"}, (SPRING,), False),
        ({"engagement": "opened"}, (PROXY_ONLY,), False),  # machines' opens never count
        ({"engagement": "clicked"}, (PROXY_ONLY,), False),
        ({"engagement": "sent", "campaign": "Welcome"}, (PROXY_ONLY,), True),
        ({"engagement": "opened", "campaign": "Welcome"}, (SPRING, PROXY_ONLY), False),
        ({"engagement": "opened", "campaign": "Spring sale"}, (SPRING, PROXY_ONLY), True),
        # a message that did not go out counts for nothing, whatever is recorded of it
        ({"engagement": "sent"}, (Message("Spring sale", "failed", sent_at=ago(days=1)),), False),
        ({"engagement": "sent"}, (Message("Spring sale", "queued"),), False),
        ({"engagement": "sent"}, (Message("Spring sale", "skipped"),), False),
        ({"engagement": "sent"}, (Message("Spring sale", "bounced", sent_at=ago(days=1)),), True),
        (
            {"engagement": "opened"},
            (Message("X", "complained", sent_at=ago(days=1), events=(Tracked("open", NOW),)),),
            True,
        ),
        ({"engagement": "sent", "within": "1h"}, (Message("X", "sent", sent_at=None),), False),
        ({"not": {"engagement": "opened", "campaign": "Welcome"}}, (PROXY_ONLY,), True),
    ],
)
def test_meaning(document: dict[str, Any], messages: tuple[Message, ...], expected: bool) -> None:
    assert matches(parse(document), person(*messages), now=NOW) is expected


def test_a_window_starts_at_a_whole_second() -> None:
    """``now`` 12:00:30.5 and 30 days: from 12:00:30 thirty days back, the same as
    ``after now-30d`` reads it."""
    start = Window(30 * 86_400, "30d").start(NOW)
    assert start == datetime(2026, 10, 6, 12, 0, 30, tzinfo=UTC)
    at_start = Message("X", "sent", sent_at=start)
    before = Message("X", "sent", sent_at=start - timedelta(microseconds=1))
    node = parse({"engagement": "sent", "within": "30d"})
    assert matches(node, person(at_start), now=NOW)
    assert not matches(node, person(before), now=NOW)
