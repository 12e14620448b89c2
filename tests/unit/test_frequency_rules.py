"""Rule syntax, checks and the words of a capped recipient's reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaignd.domain.frequency import (
    FrequencyProblem,
    Rule,
    capped_reason,
    checked_category,
    checked_rules,
    default_rules,
    parse_rule,
    rules_text,
)

NOW = datetime(2026, 10, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["3/7d", "3/7", " 3 / 7 days ", "3 per 7 days", "3/7D"])
def test_rule_syntax(text: str) -> None:
    assert parse_rule(text) == Rule(3, 7)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3-7", "is not a rule"),
        ("0/7d", "rules[0].max: must be between 1 and 1000"),
        ("1/0d", "rules[0].days: must be between 1 and 3650"),
        ("1/4000d", "rules[0].days"),
    ],
)
def test_bad_rule_syntax(text: str, words: str) -> None:
    with pytest.raises(FrequencyProblem, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_rule(text)


def test_rule_sets_are_ordered_longest_window_first() -> None:
    rules = checked_rules([{"max": 1, "days": 1}, {"max": 3, "days": 7}])
    assert rules == (Rule(3, 7), Rule(1, 1))
    assert rules_text(rules) == "3/7d 1/1d"
    assert rules_text(()) == "none"


def test_default_rules_follow_the_cooldown() -> None:
    assert default_rules(90) == (Rule(1, 90),)
    assert default_rules(0) == ()


@pytest.mark.parametrize("name", ["product-updates", "a", "x" * 63])
def test_category_names(name: str) -> None:
    assert checked_category(name) == name


@pytest.mark.parametrize("name", ["", "Product", "-a", "a b", "x" * 64, 3])
def test_bad_category_names(name: object) -> None:
    with pytest.raises(FrequencyProblem, match="category"):
        checked_category(name)


def test_a_lone_one_per_rule_keeps_the_cooldown_words() -> None:
    words = capped_reason(
        Rule(1, 90),
        campaign_name="Winter Event",
        contacted_at=NOW - timedelta(days=15),
        count=1,
        now=NOW,
        sent=True,
        name_rule=False,
    )
    assert words == "received 'Winter Event' 15 days ago; eligible again on 2027-01-12"


def test_a_rule_of_several_names_the_count_the_holder_and_the_rule() -> None:
    words = capped_reason(
        Rule(3, 7),
        campaign_name=None,
        contacted_at=NOW - timedelta(days=3),
        count=4,
        now=NOW,
        sent=True,
    )
    assert words == (
        "4 messages in the last 7 days, among them another campaign 3 days ago "
        "(at most 3 per 7 days); eligible again on 2026-11-02"
    )
