"""Which variables a campaign's templates print without a fallback, and how each is covered."""

from __future__ import annotations

import pytest

from campaignd.domain.template_variables import RecipientVariable, recipient_variables
from campaignd.domain.templates import PROVIDED_NAMES, compile_campaign, recipient_context


def flagged(text: str, *, subject: str = "News", html: str | None = None) -> dict[str, bool]:
    """Flagged variable -> empty_only."""
    return {
        variable.name: variable.empty_only for variable in recipient_variables(subject, html, text)
    }


@pytest.mark.parametrize(
    "text",
    [
        "Hi {{ first_name }}!",
        "Hi {{ first_name | title }}!",
        "Hi {{ first_name ~ '!' }}",
        "{% set greeting = 'Hi ' ~ first_name %}{{ greeting }}",
        "{% macro hello(who) %}Hi {{ who }}{% endmacro %}{{ hello(first_name) }}",
        "{% if vip %}Hi {{ first_name }}{% endif %}",
        "{% if first_name %}Hi{% endif %} and {{ first_name }}",
        "{{ 'Hi ' if vip else first_name }}",
        "{{ nickname or first_name }}",
    ],
)
def test_an_unguarded_use_is_flagged(text: str) -> None:
    assert flagged(text) == {"first_name": False}


@pytest.mark.parametrize(
    "text",
    [
        "Hi {{ first_name | default('there', true) }}!",
        "Hi {{ first_name | d('there', true) }}!",
        "Hi {{ first_name | default('there', boolean=true) }}!",
        "{% if first_name %}Hi {{ first_name }}{% endif %}",
        "{% if first_name and vip %}Hi {{ first_name }}{% endif %}",
        "{% if not first_name %}Hi{% else %}Hi {{ first_name }}{% endif %}",
        "{% if vip %}VIP{% elif first_name %}Hi {{ first_name }}{% endif %}",
        "{% if not first_name %}Hi{% elif vip %}VIP {{ first_name }}{% endif %}",
        "Hi {{ first_name if first_name else 'there' }}",
        "Hi {{ first_name or 'there' }}",
        "{{ first_name and 'Hi ' ~ first_name }}",
        "{% if vip %}VIP{% endif %}{% if first_name is defined %}.{% endif %}",
    ],
)
def test_a_guarded_use_is_not_flagged(text: str) -> None:
    assert "first_name" not in flagged(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hi {{ first_name | default('there') }}!",
        "Hi {{ first_name | d('there') }}!",
        "Hi {{ first_name | default('there', false) }}!",
        "{% if first_name is defined %}Hi {{ first_name }}{% endif %}",
        "{% if first_name is undefined %}Hi{% else %}Hi {{ first_name }}{% endif %}",
    ],
)
def test_a_default_covers_an_absent_variable_but_not_an_empty_one(text: str) -> None:
    assert flagged(text) == {"first_name": True}


def test_why_default_without_true_is_not_enough() -> None:
    compiled = compile_campaign("s", None, "Hi {{ first_name | default('there') }}!")
    assert compiled.render({})[2] == "Hi there!"
    assert compiled.render({"first_name": ""})[2] == "Hi !"  # a blank CSV cell
    assert compiled.render({"first_name": None})[2] == "Hi None!"


def test_the_least_covered_use_decides() -> None:
    assert flagged(
        "{{ first_name | default('there', true) }} {{ first_name | default('you') }}"
    ) == {"first_name": True}
    assert flagged("{{ first_name | default('you') }}", subject="Hi {{ first_name }}") == {
        "first_name": False
    }
    assert flagged("x", subject="{{ first_name | default('you', true) }}") == {}


def test_attributes_count_as_their_variable() -> None:
    assert flagged("Hi {{ user.name }} of {{ user['company'] }} {{ items[0].id }}") == {
        "user": False,
        "items": False,
    }
    # an attribute of a null or empty value is undefined too: default() covers them all
    assert flagged("Hi {{ user.name | default('there') }}") == {}
    assert flagged("{% if user.name %}Hi {{ user.name }}{% endif %}") == {}


def test_loops_own_variables_are_not_counted_but_the_list_is() -> None:
    text = "{% for order in orders %}{{ loop.index }}. {{ order.number }}{% endfor %}"
    assert flagged(text) == {"orders": False}
    with_else = "{% for order in orders %}{{ order.number }}{% else %}No orders.{% endfor %}"
    assert flagged(with_else) == {}
    filtered = "{% for order in orders if order.number > limit %}{{ order }}{% endfor %}"
    assert flagged(filtered) == {"orders": False, "limit": False}


def test_names_the_template_or_campaignd_gives_are_not_counted() -> None:
    text = (
        "{% set shop = 'Acme' %}{{ shop }} {{ email }} {{ unsubscribe_url }}"
        "{% set ns = namespace(total=0) %}{{ ns.total }} {{ range(3) | list }} {{ dict(a=1) }}"
        "{% macro box(label, size=2) %}{{ label }}{{ size }}{% endmacro %}{{ box('x') }}"
        "{% with greeting = 'Hi' %}{{ greeting }}{% endwith %}"
        "{% if vip %}{% set title = 'Dear VIP' %}{% endif %}{{ title }}"
    )
    assert flagged(text) == {}
    # a variable of the recipient's cannot override what campaignd gives (recipient_context)
    assert set(recipient_context("a@example.org", {}, "https://u")) == PROVIDED_NAMES


def test_a_test_that_only_looks_is_not_a_use_but_a_comparison_is() -> None:
    assert flagged("{% if vip %}VIP{% endif %}{% if coupon is none %}-{% endif %}") == {}
    # an absent count fails the render: flagged
    assert flagged("{% if count > 3 %}many{% endif %}") == {"count": False}


def test_a_guard_outside_a_macro_does_not_cover_its_body() -> None:
    text = (
        "{% macro hello() %}Hi {{ first_name }}{% endmacro %}"
        "{% if first_name %}{{ hello() }}{% endif %}"
    )
    assert flagged(text) == {"first_name": False}
    inside = (
        "{% if first_name %}{% macro hello() %}Hi {{ first_name }}{% endmacro %}{% endif %}"
        "{{ hello() }}"
    )
    assert flagged(inside) == {"first_name": False}


def test_what_a_recipient_without_the_variable_sees() -> None:
    [variable] = recipient_variables("Hi {{ first_name }}!", None, None)
    assert variable == RecipientVariable("first_name", empty_only=False, seen_as="Hi !")
    [html] = recipient_variables(
        "News", "<h1>Hello {{ first_name | title }}</h1>\n<p>More</p>", None
    )
    assert html.seen_as == "Hello"
    between = recipient_variables("News", None, "Line\nDear {{ title }} {{ name }}, hi")
    assert {item.name: item.seen_as for item in between} == {
        "name": "Dear … , hi",
        "title": "Dear …, hi",
    }
    [loop] = recipient_variables("News", None, "{% for o in orders %}{{ o }}{% endfor %}")
    assert loop.seen_as is None
    [guarded_first] = recipient_variables(
        "News", None, "{% if first_name %}Dear {{ first_name }}{% endif %} Hi {{ first_name }}!"
    )
    assert guarded_first.seen_as == "Hi !"


def test_variables_are_sorted_and_a_broken_template_adds_none() -> None:
    names = [item.name for item in recipient_variables("{{ b }}{{ a", "{{ c }}", "{{ a }}")]
    assert names == ["a", "c"]
    too_deep = "{{ " + " and ".join(["a"] * 3000) + " }}"  # refused when saved, too
    assert recipient_variables("{{ b }}", None, too_deep) == [
        RecipientVariable("b", empty_only=False, seen_as=None)
    ]
