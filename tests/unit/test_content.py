"""The per-campaign content pipeline (``domain.content``): Markdown, layouts, CSS inlined,
the text part made from the HTML; Jinja tags kept through every step."""

from __future__ import annotations

import pytest

from campaignd.domain.content import (
    ContentProblem,
    Layout,
    campaign_html,
    check_layout_html,
    check_layout_text,
    compose,
)
from campaignd.domain.markdown import markdown_to_html
from campaignd.domain.plain_text import text_from_html
from campaignd.domain.templates import compile_campaign, recipient_context


def rendered(
    html_body: str | None,
    text_body: str | None,
    *,
    variables: dict[str, str],
    body_format: str = "html",
    layout: Layout | None = None,
) -> tuple[str, str]:
    composed = compose(
        html_body=html_body, text_body=text_body, body_format=body_format, layout=layout
    )
    compiled = compile_campaign("s", composed.html, composed.text)
    _, html, text = compiled.render(
        recipient_context("a@x.org", variables, "https://u.example/u/t")
    )
    assert html is not None and text is not None
    return html, text


def test_markdown_renders_tables_links_and_keeps_tags() -> None:
    html = markdown_to_html(
        "# Hi {{ name }}\n\n| a | b |\n|---|---|\n| 1 | {{ x }} |\n\n"
        "[shop]({{ url }}) and https://acme.example\n"
    )
    assert "<h1>Hi {{ name }}</h1>" in html
    assert "<td>{{ x }}</td>" in html
    assert '<a href="{{ url }}">shop</a>' in html
    assert '<a href="https://acme.example">https://acme.example</a>' in html


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ('<span style="color:red">ok</span>', True),
        ('<a href="https://acme.example">x</a>', True),
        ("<script>alert(1)</script>", False),
        ('<img src="x" onerror="alert(1)">', False),
        ('<a href="javascript:alert(1)">x</a>', False),
        ('<iframe src="https://evil.example"></iframe>', False),
    ],
)
def test_raw_html_in_markdown_passes_only_when_safe(raw: str, kept: bool) -> None:
    html = markdown_to_html(f"Before {raw} after\n\n{raw}\n")
    assert (raw in html) is kept
    if not kept:
        assert "&lt;" in html


def test_a_value_is_never_read_as_markdown_or_html() -> None:
    html, text = rendered(
        "Note: {{ note }}",
        None,
        variables={"note": "**bold** <b>x</b> [l](https://evil.example)"},
        body_format="markdown",
    )
    assert "<strong>" not in html and "<b>" not in html and 'href="https://evil' not in html
    assert "**bold** &lt;b&gt;x&lt;/b&gt; [l](https://evil.example)" in html
    assert "Note: **bold** <b>x</b> [l](https://evil.example)" in text


def test_statements_alone_on_their_line_loop_over_blocks() -> None:
    html, text = rendered(
        "{% for item in items %}\n- {{ item }}\n{% endfor %}\n",
        None,
        variables={"items": ["tent", "stove"]},  # type: ignore[dict-item]
        body_format="markdown",
    )
    assert html.count("<li>") == 2 and "<li>tent</li>" in html and "<li>stove</li>" in html
    assert "- tent" in text and "- stove" in text


def test_a_layout_wraps_the_body_and_its_css_is_inlined_once_in_the_template() -> None:
    layout = Layout(
        html="<html><head><style>p { color: #123456 } td { padding: 4px }</style></head>"
        "<body><table>{% for x in [1] %}<tr><td>{{ content }}</td></tr>{% endfor %}</table>"
        '<p><a href="{{ unsubscribe_url }}" title="{{ "a" }}">Leave</a></p></body></html>'
    )
    html = campaign_html("<p>Hi {{ name }}</p>", "html", layout)
    assert html is not None
    assert '<p style="color: #123456;">Hi {{ name }}</p>' in html
    assert '<td style="padding: 4px;">' in html
    assert "{% for x in [1] %}" in html and "{% endfor %}" in html
    assert 'href="{{ unsubscribe_url }}"' in html and 'title="{{ "a" }}"' in html


def test_the_text_part_is_readable() -> None:
    text = text_from_html(
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<h1>Big news</h1><h2>Smaller</h2><p>Read <a href='https://a.example/x'>our post</a>"
        " or <a href='https://a.example/'>https://a.example/</a>.</p>"
        "<ul><li>one</li><li>two<ol><li>inner</li></ol></li></ul>"
        "<p>Fish &amp; chips<br>next line</p><img alt='Logo' src='x.png'></body></html>"
    )
    assert text.splitlines()[:5] == ["Big news", "========", "", "Smaller", "-------"]
    assert "Read our post (https://a.example/x) or https://a.example/." in text
    assert "- one" in text and "  1. inner" in text
    assert "Fish & chips\nnext line" in text
    assert "Logo" in text and "<" not in text and "p{}" not in text and "T\n" not in text


def test_an_explicit_text_body_wins_and_the_text_layout_wraps_it() -> None:
    layout = Layout(html="<div>H</div>{{ content }}", text="HEAD\n{{ content }}\nFOOT")
    _html, text = rendered(
        "<p>html</p>", "written {{ name }}", variables={"name": "Ada"}, layout=layout
    )
    assert text == "HEAD\nwritten Ada\nFOOT"
    generated = compose(html_body="<p>made</p>", text_body=None, body_format="html", layout=layout)
    assert generated.text_generated and generated.text == "HEAD\nmade\n\nFOOT"


def test_layout_checks() -> None:
    check_layout_html("<p>{{content}}</p>")
    check_layout_text(None)
    with pytest.raises(ContentProblem, match=r"\{\{ content \}\}"):
        check_layout_html("<p>{{ contents }}</p>")
    with pytest.raises(ContentProblem, match="text"):
        check_layout_text("no slot")
    with pytest.raises(ContentProblem, match="bodyFormat"):
        compose(html_body="x", text_body=None, body_format="rich", layout=None)


def test_a_text_campaign_gets_an_html_part_made_from_its_text() -> None:
    html, text = rendered(
        None,
        "Hi {{ name }},\nsee https://acme.example/x.\n\n<b>not markup</b>",
        variables={"name": "<Ada>"},
        body_format="text",
        layout=Layout(html="<div class='brand'>ACME</div>{{ content }}"),
    )
    assert '<div class="brand">ACME</div>' in html or "<div class='brand'>ACME</div>" in html
    assert (
        '<p>Hi &lt;Ada&gt;,<br>\nsee <a href="https://acme.example/x">https://acme.example/x</a>.</p>'
        in html
    )
    assert "<p>&lt;b&gt;not markup&lt;/b&gt;</p>" in html
    assert text.startswith("Hi <Ada>,\nsee https://acme.example/x.")
    with pytest.raises(ContentProblem, match="htmlBody"):
        compose(html_body="<p>x</p>", text_body="x", body_format="text", layout=None)


def test_tags_inside_comments_and_outlook_blocks_survive_the_inliner() -> None:
    layout = Layout(
        html="<html><head><style>p { color: red }</style></head><body>"
        '<!--[if mso]><table width="{{ width }}"><tr><td>{{ brand }}</td></tr></table>'
        "<![endif]-->{{ content }}<!-- sent to {{ email }} --></body></html>"
    )
    html = campaign_html("<p>Hi</p>", "html", layout)
    assert html is not None
    assert '<!--[if mso]><table width="{{ width }}"><tr><td>{{ brand }}</td></tr></table>' in html
    assert "<![endif]-->" in html and "<!-- sent to {{ email }} -->" in html
    assert '<p style="color: red;">Hi</p>' in html


def test_comments_leave_nothing_in_the_text_part() -> None:
    text = text_from_html(
        "<!--[if mso]><table><tr><td>{{ brand }}</td></tr></table><![endif]-->"
        "<p>Hi {{ name }}</p><!-- a note -->"
    )
    assert text.strip() == "Hi {{ name }}"
