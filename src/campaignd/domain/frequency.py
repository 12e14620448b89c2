"""Frequency rules: "at most N messages per D days", their syntax, checks and words.

A rule set is a list of rules; a recipient is capped when any rule of the set is reached
by the messages counted against it (``store.frequency``). The default set is one rule,
``1 per COOLDOWN_DAYS days``: the cooldown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaignd.domain.cooldown import cooldown_reason, eligible_again, when_words

MAX_RULES = 5
MAX_DAYS = 3650
MAX_PER_RULE = 1000
CATEGORY = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
RULE_TEXT = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)\s*(?:d|days?)?\s*$", re.IGNORECASE)


class FrequencyProblem(ValueError):
    """A rule or category that cannot be used; the message names the field."""


@dataclass(frozen=True, order=True)
class Rule:
    max: int
    days: int

    def as_json(self) -> dict[str, int]:
        return {"max": self.max, "days": self.days}

    @property
    def text(self) -> str:
        """``1/90d``: the CLI's syntax."""
        return f"{self.max}/{self.days}d"

    @property
    def words(self) -> str:
        """``at most 3 per 7 days``."""
        days = "day" if self.days == 1 else f"{self.days} days"
        return f"at most {self.max} per {days}"


def default_rules(cooldown_days: int) -> tuple[Rule, ...]:
    """The rule set of an organization that set none: the cooldown (none when it is 0)."""
    return (Rule(1, cooldown_days),) if cooldown_days > 0 else ()


def parse_rule(text: str) -> Rule:
    """``3/7d`` (also ``3/7``, ``3 per 7 days``): at most 3 messages per 7 days."""
    match = RULE_TEXT.match(text)
    if match is None:
        raise FrequencyProblem(f"rule: '{text}' is not a rule; write MAX/DAYSd, e.g. 1/1d or 3/7d")
    return checked_rule({"max": int(match.group(1)), "days": int(match.group(2))}, 0)


def checked_rule(value: Any, index: int) -> Rule:
    """One rule from JSON, ``{"max": N, "days": D}``, checked."""
    where = f"rules[{index}]"
    if not isinstance(value, Mapping):
        raise FrequencyProblem(f'{where}: expected an object {{"max": N, "days": D}}')
    unknown = sorted(set(value) - {"max", "days"})
    if unknown:
        raise FrequencyProblem(f"{where}.{unknown[0]}: unknown field; a rule has max and days")
    numbers = {}
    for field, upper in (("max", MAX_PER_RULE), ("days", MAX_DAYS)):
        number = value.get(field)
        if number is None:
            raise FrequencyProblem(f"{where}.{field}: required")
        if isinstance(number, bool) or not isinstance(number, int):
            raise FrequencyProblem(f"{where}.{field}: must be a whole number")
        if not 1 <= number <= upper:
            raise FrequencyProblem(f"{where}.{field}: must be between 1 and {upper}")
        numbers[field] = number
    return Rule(numbers["max"], numbers["days"])


def checked_rules(values: Any) -> tuple[Rule, ...]:
    """A rule set from JSON: a list of at most ``MAX_RULES`` distinct rules (may be empty:
    no cap). Sorted longest window first, the order they are checked and reported in."""
    if not isinstance(values, list):
        raise FrequencyProblem('rules: expected a list of {"max": N, "days": D}')
    if len(values) > MAX_RULES:
        raise FrequencyProblem(f"rules: at most {MAX_RULES} rules")
    rules = [checked_rule(value, index) for index, value in enumerate(values)]
    days = [rule.days for rule in rules]
    if len(set(days)) != len(days):
        raise FrequencyProblem("rules: two rules have the same days; keep one per window")
    return ordered(rules)


def ordered(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(sorted(rules, key=lambda rule: (-rule.days, rule.max)))


def checked_category(name: Any) -> str:
    if not isinstance(name, str) or not CATEGORY.match(name):
        raise FrequencyProblem(
            "category: use 1 to 63 lower-case letters, digits and dashes, e.g. product-updates"
        )
    return name


def rules_text(rules: Iterable[Rule]) -> str:
    """``3/7d 1/1d``, or ``none`` for an empty set (no cap)."""
    words = " ".join(rule.text for rule in rules)
    return words or "none"


def capped_reason(
    rule: Rule,
    *,
    campaign_name: str | None,
    contacted_at: datetime,
    count: int,
    now: datetime,
    sent: bool,
    name_rule: bool = True,
) -> str:
    """Why a recipient is capped by ``rule``, naming the message that must age out first.

    A ``1 per D days`` rule words it as the cooldown always did (``received 'Winter Event'
    15 days ago; eligible again on 2027-01-12``), with the rule in brackets unless
    ``name_rule`` is False (the default rule set: the cooldown's words exactly). Otherwise:
    ``3 messages in the last 7 days, among them 'Spring' 5 days ago (at most 3 per 7 days);
    eligible again on 2026-12-05``.
    """
    if not name_rule and rule.max == 1 and count <= 1:
        return cooldown_reason(
            campaign_name=campaign_name,
            contacted_at=contacted_at,
            cooldown_days=rule.days,
            now=now,
            sent=sent,
        )
    again = eligible_again(contacted_at, rule.days).date().isoformat()
    cause = capped_cause(
        rule,
        campaign_name=campaign_name,
        contacted_at=contacted_at,
        count=count,
        now=now,
        sent=sent,
    )
    return f"{cause}; eligible again on {again}"


def capped_cause(
    rule: Rule,
    *,
    campaign_name: str | None,
    contacted_at: datetime,
    count: int,
    now: datetime,
    sent: bool,
) -> str:
    """The first part of ``capped_reason``: the messages and the rule, without the date a
    slot frees (``received 'Spring' 5 days ago (at most 1 per 7 days)``)."""
    if rule.max == 1 and count <= 1:
        words = cooldown_reason(
            campaign_name=campaign_name,
            contacted_at=contacted_at,
            cooldown_days=rule.days,
            now=now,
            sent=sent,
        )
        return f"{words.split('; ', 1)[0]} ({rule.words})"
    holder = "another campaign" if campaign_name is None else f"'{campaign_name}'"
    window = "day" if rule.days == 1 else f"{rule.days} days"
    messages = "1 message" if count == 1 else f"{count} messages"
    when = when_words(contacted_at, now)
    return f"{messages} in the last {window}, among them {holder} {when} ({rule.words})"
