"""Templates are compiled and tried when saved; unsafe or broken ones are refused by field."""

from __future__ import annotations

import pytest

from campaignd.domain.templates import TemplateProblem, compile_campaign


def test_personal_parts_are_rendered_and_html_is_escaped() -> None:
    compiled = compile_campaign("Hi {{ name }}", "<p>{{ name }}</p>", "Hi {{ name }}")
    subject, html, text = compiled.render({"name": "<b>Ada</b>"})
    assert subject == "Hi <b>Ada</b>"
    assert html == "<p>&lt;b&gt;Ada&lt;/b&gt;</p>"
    assert text == "Hi <b>Ada</b>"


def test_missing_variables_render_empty() -> None:
    compiled = compile_campaign("Hi {{ name }}", None, "{{ person.first }}!")
    assert compiled.render({}) == ("Hi", None, "!")


@pytest.mark.parametrize(
    ("subject", "html", "text", "field"),
    [
        ("Hi {{ name", None, "x", "subject"),
        ("Hi", "{% for x in y %}", None, "htmlBody"),
        ("Hi", None, "{{ ''.__class__.__mro__ }}", "textBody"),
        ("Hi", "{{ x['__globals__'] }}", None, "htmlBody"),
        ("Hi", None, "{{ 1 / 0 }}", "textBody"),
    ],
)
def test_broken_or_unsafe_templates_name_their_field(
    subject: str, html: str | None, text: str | None, field: str
) -> None:
    with pytest.raises(TemplateProblem) as problem:
        compile_campaign(subject, html, text)
    assert problem.value.field == field


def test_unsubscribe_link_use_is_detected() -> None:
    compiled = compile_campaign("s", '<a href="{{ unsubscribe_url }}">x</a>', "plain")
    assert compiled.html_has_unsubscribe
    assert not compiled.text_has_unsubscribe
