"""Content: the per-campaign work (Markdown, the layout, CSS inlining, the text part made
from the HTML, compiling) against the per-recipient render, and the per-recipient cost of a
campaign with a layout beside one without.

The campaign is a Markdown newsletter of about 3 KB (a heading, paragraphs, a table, a
list, links, three variables) in a layout of about 2 KB with a ``<style>`` block of a dozen
rules. Figures (CPU, one thread, best of several rounds):

- the per-campaign work: ``MessageBuilder(...)``, which composes (``domain.content``) and
  compiles the templates once;
- CSS inlining alone (``css_inline``), which is part of it, done once per campaign;
- one recipient's message (``MessageBuilder.build``) with the layout, Markdown and the made
  text part, and the same for the plain HTML body without a layout (today's cost).

If the CSS were inlined per recipient, each message would cost the inlining on top; the
figures show how many messages that one inlining is worth.

``python -m benchmarks --only content`` runs it as a section; ``python -m benchmarks.content``
prints the figures alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.common import HTML_BODY, SUBJECT, TEXT_BODY
from benchmarks.report import Figure, Report
from campaignd.delivery.messages import CampaignContent, MessageBuilder
from campaignd.domain.content import Layout, campaign_html, compose
from campaignd.domain.tags import inline_css

LAYOUT = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ subject }}</title>
<style>
body { margin: 0; background: #f3f4f6; font-family: Helvetica, Arial, sans-serif; }
.wrapper { width: 100%; background: #f3f4f6; padding: 24px 0; }
.main { max-width: 600px; margin: 0 auto; background: #ffffff; padding: 32px; }
.brand { font-size: 20px; font-weight: bold; color: #0f766e; }
h1 { font-size: 26px; color: #111827; margin: 0 0 16px; }
h2 { font-size: 20px; color: #111827; }
p { font-size: 16px; line-height: 1.5; color: #374151; }
a { color: #0f766e; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 8px; text-align: left; }
.footer { font-size: 12px; color: #6b7280; text-align: center; }
@media (max-width: 600px) { .main { padding: 16px; } }
</style></head>
<body><table class="wrapper" role="presentation"><tr><td>
<div class="main"><div class="brand">Example Shop</div>
{{ content }}
</div>
<p class="footer">Example Shop Ltd, 1 High Street, Springfield.<br>
You get this because you subscribed. <a href="{{ unsubscribe_url }}">Unsubscribe</a>.</p>
</td></tr></table></body></html>"""

MARKDOWN = """# Spring is here, {{ first_name }}

Our **new collection** is in the shop, and members in {{ city }} get free delivery
until the end of the month. [See everything](https://shop.example.org/spring).

## This week's picks

| Item | Price | Note |
|------|------:|------|
| Ridge tent | 120 | two people |
| Trail stove | 45 | gas |
| Down sleeping bag | 180 | -5 °C |

- Order before Friday for weekend delivery
- Returns are free for 60 days
- Questions? Reply to this message

You have been a member since {{ since }}: thank you.

Read it online at https://shop.example.org/news/spring.
"""

VARIABLES = {"first_name": "Ada", "city": "Springfield", "since": "2021"}


def _best(work: Callable[[], object], *, rounds: int, repeat: int) -> float:
    """The best of ``rounds`` of ``repeat`` calls, in seconds per call (CPU time)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(repeat):
            work()
        best = min(best, (time.thread_time() - started) / repeat)
    return best


def _content(
    *, layout: Layout | None, body_format: str, html: str, text: str | None
) -> CampaignContent:
    return CampaignContent(
        campaign_id=1,
        organization_id=1,
        subject=SUBJECT,
        html_body=html,
        text_body=text,
        from_address="Example Shop <news@shop.example.org>",
        organization="bench",
        body_format=body_format,
        layout=layout,
    )


def _builder(content: CampaignContent) -> MessageBuilder:
    return MessageBuilder(
        content, public_url="http://127.0.0.1:8000", unsubscribe_secret="s" * 64, installation="b"
    )


def measure_content(report: Report, *, quick: bool = False) -> None:
    rounds, repeat = (3, 20) if quick else (5, 100)
    laid_out = _content(
        layout=Layout(html=LAYOUT), body_format="markdown", html=MARKDOWN, text=None
    )
    plain = _content(layout=None, body_format="html", html=HTML_BODY, text=TEXT_BODY)

    def build_anew() -> MessageBuilder:
        compose.cache_clear()  # the per-campaign work as a worker does it the first time
        return _builder(laid_out)

    per_campaign = _best(build_anew, rounds=rounds, repeat=max(5, repeat // 10))
    composed_without_css = campaign_html(MARKDOWN, "markdown", None)
    assert composed_without_css is not None
    wrapped = LAYOUT.replace("{{ content }}", composed_without_css)
    inlining = _best(lambda: inline_css(wrapped), rounds=rounds, repeat=repeat)
    builder = _builder(laid_out)
    plain_builder = _builder(plain)
    message = _best(
        lambda: builder.build(1, "ada@example.org", VARIABLES), rounds=rounds, repeat=repeat * 5
    )
    plain_message = _best(
        lambda: plain_builder.build(1, "ada@example.org", VARIABLES),
        rounds=rounds,
        repeat=repeat * 5,
    )
    size = len(builder.build(1, "ada@example.org", VARIABLES).data)
    section = "content"
    report.add(
        Figure(
            section,
            "per-campaign work (Markdown, layout, CSS inlined, text part, compile)",
            per_campaign * 1000,
            "ms once per campaign",
            note="MessageBuilder(...): done once per campaign and worker",
        )
    )
    report.add(
        Figure(
            section,
            "CSS inlining alone (part of the per-campaign work)",
            inlining * 1000,
            "ms once per campaign",
            note=f"worth {inlining / message:,.0f} messages' renders if done per recipient",
        )
    )
    report.add(
        Figure(
            section,
            "one recipient's message, Markdown in a layout with CSS inlined",
            message * 1_000_000,
            "µs per message",
            baseline=plain_message * 1_000_000,
            baseline_note="the delivery benchmark's HTML and text bodies, no layout",
            note=f"{size:,} bytes; CSS inlined per recipient would add {inlining * 1e6:,.0f} µs",
        )
    )


def main() -> None:
    from rich.console import Console

    from benchmarks.report import render

    report = Report(command="python -m benchmarks.content")
    measure_content(report)
    render(report, Console())


if __name__ == "__main__":
    main()
