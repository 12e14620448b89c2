"""What a user's template can reach (nothing of ours) and what it can cost (a bounded amount).

Every gadget below either is refused when the campaign is saved or renders without anything
secret; every costly template is refused with the limit it went over, quickly and without
the memory it asked for.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from campaignd.delivery.messages import CampaignContent, MessageBuilder, render_limits
from campaignd.domain.templates import (
    RenderLimitExceeded,
    RenderLimits,
    TemplateProblem,
    compile_campaign,
)
from campaignd.settings import SettingsError, load_settings

SECRET = "jwt-secret-that-must-never-show-0123456789"
PAYLOAD = "{0.__globals__[os].environ[CAMPAIGND_JWT_SECRET]}"
RECIPIENT = {"email": "victim@example.org", "unsubscribe_url": "https://x.example/u/1"}


@pytest.fixture(autouse=True)
def secret_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGND_JWT_SECRET", SECRET)


GADGETS = {
    "attr-format": "{{ ('PAYLOAD'|attr('format'))(lipsum) }}",
    "attr-format-of-joiner": "{{ ('PAYLOAD'|attr('format'))(joiner) }}",
    "format-method": "{{ 'PAYLOAD'.format(cycler) }}",
    "format-map": "{{ 'PAYLOAD'.replace('0.', 'x.').format_map({'x': lipsum}) }}",
    "format-by-item": "{{ ('PAYLOAD'['format'])(lipsum) }}",
    "format-by-built-name": "{% set name = 'for' ~ 'mat' %}{{ ('PAYLOAD'[name])(lipsum) }}",
    "format-via-map": "{{ ['PAYLOAD']|map('attr', 'format')|list }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].environ }}",
    "lipsum-called": "{{ lipsum(1) }}",
    "cycler-next": "{{ cycler('a', 'b').next() }}",
    "joiner-called": "{{ joiner(',')() }}",
    "namespace-init": "{{ namespace.__init__.__globals__ }}",
    "namespace-attributes": "{% set ns = namespace(a=1) %}{{ ns['_Namespace__attrs'] }}",
    "self-context": "{{ self._TemplateReference__context.parent }}",
    "self-printed": "{{ self }} {{ self|string }}",
    "range-globals": "{{ range.__globals__ }}",
    "range-closure": "{{ range.__closure__ }}",
    "dict-mro": "{{ dict.mro() }}",
    "class-walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "loop-walk": "{% for x in [1] %}{{ loop._iterator }}{% endfor %}",
    "undefined-config": "{{ config }} {{ request }} {{ os }} {{ environ }}",
}


def armed(body: str) -> str:
    """``PAYLOAD`` in ``body`` replaced with the format string that reaches for the secret."""
    return body.replace("PAYLOAD", PAYLOAD)


@pytest.mark.parametrize("gadget", GADGETS.values(), ids=GADGETS.keys())
def test_gadgets_are_refused_or_render_nothing_secret(gadget: str) -> None:
    body = armed(gadget)
    try:
        compiled = compile_campaign("Hello", None, body)
    except TemplateProblem as problem:
        assert problem.field == "textBody"
        assert SECRET not in str(problem)
        return
    try:
        _, _, text = compiled.render(RECIPIENT)
    except Exception as error:
        assert SECRET not in str(error)
        return
    assert text is not None and SECRET not in text and "environ" not in text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{{ x|attr('format') }}", "there is no filter 'attr'"),
        ("{{ x|pprint }}", "there is no filter 'pprint'"),
        ("{{ '{0}'.format(x) }}", "'.format()' is not allowed"),
        ("{{ x['format_map'] }}", "'.format_map()' is not allowed"),
        ("{{ x.__class__ }}", "unsafe attribute '__class__'"),
        ("{% include 'other' %}", "{% include %} is not available"),
        ("{% extends 'base' %}", "{% extends %} is not available"),
        ("{% from 'x' import y %}", "{% from ... import %} is not available"),
    ],
)
def test_gadgets_are_refused_by_reading_them(body: str, reason: str) -> None:
    """Refused when saved even where the trial render would not reach them."""
    hidden = "{% if email == 'victim@example.org' %}" + body + "{% endif %}"
    with pytest.raises(TemplateProblem) as problem:
        compile_campaign("Hello", None, hidden)
    assert problem.value.field == "textBody"
    assert reason in str(problem.value)


def test_a_gadget_behind_a_condition_renders_harmlessly_for_its_target() -> None:
    body = armed(
        "{% if email == 'victim@example.org' %}"
        "{% set name = 'for' ~ 'mat' %}{{ ('PAYLOAD'[name])(lipsum) }}"
        "{% endif %}ok"
    )
    compiled = compile_campaign("Hello", None, body)

    with pytest.raises(Exception) as error:  # whatever it is, it says nothing secret
        compiled.render(RECIPIENT)

    assert "unsafe" in str(error.value) and SECRET not in str(error.value)
    assert compiled.render({"email": "other@example.org"})[2] == "ok"


def test_the_removed_globals_are_just_undefined() -> None:
    compiled = compile_campaign("Hello", None, "[{{ lipsum }}|{{ cycler }}|{{ joiner }}]")
    assert compiled.render(RECIPIENT)[2] == "[||]"


def test_what_marketers_write_still_works() -> None:
    body = (
        "{% macro price(item) %}{{ '%.2f'|format(item.price) }} EUR{% endmacro %}"
        "{% set ns = namespace(total=0) %}"
        "Hello {{ first_name|default('there')|title }},\n"
        "{% for item in items|sort(attribute='name') %}"
        "{{ loop.index }}. {{ item.name|upper|truncate(20) }}: {{ price(item) }}"
        "{% set ns.total = ns.total + item.price %}{{ loop.cycle(',', ';') }}\n"
        "{% endfor %}"
        "Total {{ '%.2f'|format(ns.total) }} for {{ items|map(attribute='name')|join(', ') }}."
        " {{ ('=' * 3) ~ ' ' ~ email.split('@')[1]|replace('.', ' dot ') }}"
        " {{ 'x'|center(5) }}|{{ 'a b'|wordwrap(1)|indent(2) }}|{{ range(3)|list }}"
    )
    variables = {
        **RECIPIENT,
        "first_name": "ada",
        "items": [{"name": "scarf", "price": 30}, {"name": "coat", "price": 120.5}],
    }

    _, _, text = compile_campaign("Hi {{ first_name }}", None, body).render(variables)

    assert text == (
        "Hello Ada,\n1. COAT: 120.50 EUR,\n2. SCARF: 30.00 EUR;\n"
        "Total 150.50 for scarf, coat. === example dot org   x  |a\n  b|[0, 1, 2]"
    )


NESTED_LOOPS = "{% for i in range(9000) %}{% for j in range(9000) %}x{% endfor %}{% endfor %}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (NESTED_LOOPS, "goes over the limit of 100000 loop iterations"),
        (
            "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
            "goes over the limit of 100000 loop iterations",
        ),
        ("{{ range(1000000)|length }}", "range() of 1000000 numbers goes over the limit"),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}",
            "goes over the limit of 100000 loop iterations",
        ),
        (
            "{% set l = range(300)|list %}{% for x in l recursive %}"
            "{% if loop.depth < 5 %}{{ loop(l) }}{% endif %}{% endfor %}",
            "goes over the limit of 100000 loop iterations",
        ),
        ("{{ 'x' * 100000000 }}", "a repeated text would be 100000000 characters"),
        ("{{ ([1] * 10000000)|length }}", "a repeated list would have 10000000 items"),
        ("{{ 9 ** (9 ** 9) }}", "computes a number over the limit of 4096 bits"),
        ("{{ 'x'|center(1000000000) }}", "the text of |center would be 1000000000"),
        ("{{ 'a\nb'|indent(1000000000) }}", "the indentation of |indent would be 1000000000"),
        ("{{ ('ab ' * 300000)|wordwrap(1, wrapstring='z' * 1000) }}", "the text of |wordwrap"),
        ("{{ '%999999999s'|format(1) }}", "the formatted text would be"),
        ("{{ '%999999999s' % 1 }}", "the formatted text would be"),
        ("{{ '%*s'|format(999999999, 1) }}", "'*' widths in % formats are not supported"),
        ("{{ range(100000)|join('x' * 1000) }}", "the text of |join would be"),
        ("{{ ('y' * 1000).join(range(100000)) }}", "the text of .join() would be"),
        ("{{ ('x' * 100000)|replace('x', 'y' * 1000) }}", "the text of |replace would be"),
        ("{{ ('x' * 100000).replace('x', 'y' * 1000) }}", "the text of .replace() would be"),
        ("{{ [1]|batch(1000000000, 'x')|list }}", "a batch of |batch would have 1000000000 items"),
        ("{{ [1]|slice(1000000000)|list }}", "the slices of |slice would have 1000000000 items"),
        ("{{ ('x' * 1000000)|list|sort }}", "the input of |list would have 1000000 items"),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "a joined value (~) would be 1048576 characters",
        ),
        (
            "{% set big = 'x' * 1000000 %}{% set ns = namespace(l=[big]) %}"
            "{% for i in range(10) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l }}",
            "a printed value would be",
        ),
        (
            "{% set big = 'x' * 1000000 %}{% set ns = namespace(l=[big]) %}"
            "{% for i in range(10) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"
            "{{ ns.l|map('upper')|list|length }}",
            "builds more than the limit of 16000000 characters",
        ),
        (
            "{% macro m() %}{% for i in range(100000) %}" + "L" * 5000 + "{% endfor %}"
            "{% endmacro %}{{ m()|length }}",
            "builds more than the limit of 16000000 characters",
        ),
        ("{{ 'x' * 600000 }}{{ 'y' * 600000 }}", "writes more than the limit of 1000000 bytes"),
        ("{{ 'é' * 600000 }}", "writes more than the limit of 1000000 bytes"),
        ("{{ 'x'.center(1000000000) }}", "access to attribute 'center' of 'str' object is unsafe"),
        ("{{ (1).to_bytes(1000000000, 'big') }}", "attribute 'to_bytes' of 'int' object"),
    ],
)
def test_costly_templates_are_refused_with_the_limit_they_went_over(body: str, reason: str) -> None:
    patient = RenderLimits(timeout=60)  # the limit named is never the clock, however busy
    with pytest.raises(TemplateProblem) as problem:
        compile_campaign("Hello", None, body, limits=patient)
    assert problem.value.field == "textBody"
    assert reason in str(problem.value)


def test_a_huge_repetition_is_refused_without_the_memory() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RenderLimitExceeded):
            compile_campaign("Hello", None, "{{ 'x' * 100000000 }}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # the text it asked for is 100 MB


def test_what_html_escaping_makes_of_a_value_is_counted_before_it_is_written() -> None:
    """Each quote becomes five characters: 100 x 200,000 quotes would be 100 MB of HTML."""
    body = "{% for i in range(100) %}<p>{{ quotes }}</p>{% endfor %}"
    compiled = compile_campaign("Hello", body, None)
    tracemalloc.start()
    try:
        with pytest.raises(RenderLimitExceeded, match="builds more than the limit"):
            compiled.render({"quotes": '"' * 200_000})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40_000_000


def test_a_render_stops_at_its_deadline() -> None:
    """Macro calls with nothing to count but time: the clock stops them."""
    limits = RenderLimits(timeout=0.2, max_iterations=10**9)
    body = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    )
    started = time.perf_counter()
    with pytest.raises(RenderLimitExceeded) as problem:
        compile_campaign("Hello", None, body, limits=limits)
    took = time.perf_counter() - started
    assert "rendering takes longer than the limit of 0.2 s" in str(problem.value)
    assert 0.2 <= took < 5  # not the hours 2**40 calls would take


def test_limits_are_settings_of_the_compiled_campaign() -> None:
    small = RenderLimits(max_iterations=10)
    body = "{% for i in range(11) %}.{% endfor %}"
    assert compile_campaign("s", None, body).render(RECIPIENT)[2] == "." * 11
    with pytest.raises(RenderLimitExceeded, match="limit of 10 loop iterations"):
        compile_campaign("s", None, body, limits=small)


def test_subject_and_bodies_share_one_budget() -> None:
    limits = RenderLimits(max_output=2000)
    compiled = compile_campaign("{{ s }}", "<p>{{ s }}</p>", "{{ s }}", limits=limits)
    assert compiled.render({"s": "x" * 600})[0] == "x" * 600
    with pytest.raises(RenderLimitExceeded) as problem:
        compiled.render({"s": "x" * 700})
    assert problem.value.field == "textBody"
    assert "writes more than the limit of 2000 bytes" in str(problem.value)


def builder(text_body: str) -> MessageBuilder:
    content = CampaignContent(
        campaign_id=1,
        organization_id=1,
        subject="Hello {{ name }}",
        html_body=None,
        text_body=text_body,
        from_address="news@acme.example",
    )
    return MessageBuilder(
        content,
        public_url="https://mail.example.org",
        unsubscribe_secret="s" * 40,
        installation="a1b2c3d4",
    )


def test_at_send_time_only_the_recipient_over_the_limits_fails() -> None:
    """Saved fine (the sample recipient has no ``n``); one recipient's values blow it up."""
    body = "{% for i in range(n|default(0)) %}{% for j in range(n) %}x{% endfor %}{% endfor %}"
    messages = builder(body)

    fine = messages.build(1, "ok@example.org", {"n": 3})
    with pytest.raises(RenderLimitExceeded) as problem:
        messages.build(2, "big@example.org", {"n": 9000})

    assert b"xxxxxxxxx" in fine.data
    assert str(problem.value) == (
        "textBody: goes over the limit of 100000 loop iterations (macro calls included)"
    )
    assert isinstance(problem.value, TemplateProblem)


def test_the_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGND_TEMPLATE_TIMEOUT", "2.5")
    monkeypatch.setenv("CAMPAIGND_TEMPLATE_MAX_OUTPUT", "50000")
    monkeypatch.setenv("CAMPAIGND_TEMPLATE_MAX_ITERATIONS", "7")

    limits = render_limits(load_settings(_env_file=None))

    assert limits == RenderLimits(timeout=2.5, max_output=50_000, max_iterations=7)
    assert render_limits(load_settings(_env_file=None, template_timeout=1)).timeout == 1


def test_a_limit_that_cannot_work_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="CAMPAIGND_TEMPLATE_MAX_OUTPUT"):
        load_settings(_env_file=None, template_max_output=10)
