"""Which links are tracked, how a message gets its own links, tokens, machine opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaignd.cli.campaign_files import CampaignFileError, load_campaign_file
from campaignd.delivery.tracking import Tracking, TrackingTokens
from campaignd.domain.links import MARKER_PREFIX, mark_links, trackable
from campaignd.domain.tracking import Machine, machine_reason

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0"


def test_tracked_links_are_numbered_once_per_url() -> None:
    marked = mark_links(
        '<a href="https://a.example/x?b=1&amp;c=2">A</a>'
        "<A HREF='https://b.example/'>B</A>"
        '<a href="https://a.example/x?b=1&amp;c=2">A again</a>'
    )
    assert marked.links == ("https://a.example/x?b=1&c=2", "https://b.example/")
    assert marked.html.count(f'"{MARKER_PREFIX}0"') == 2
    assert marked.html.count(f'"{MARKER_PREFIX}1"') == 1
    assert "a.example" not in marked.html


@pytest.mark.parametrize(
    "anchor",
    [
        '<a href="mailto:ada@example.org">mail</a>',
        '<a href="tel:+4930123">call</a>',
        '<a href="#section">anchor</a>',
        '<a href="/relative">relative</a>',
        '<a data-no-track href="https://a.example/">private</a>',
        '<a href="https://a.example/" data-no-track="">private</a>',
        '<a href="https://a.example/{{ id }}">personal</a>',
        '<a href="{{ unsubscribe_url }}">unsubscribe</a>',
        '<a href="https://mail.example.org/u/abc">unsubscribe</a>',
        '<a name="top">no href</a>',
    ],
)
def test_links_left_alone(anchor: str) -> None:
    marked = mark_links(anchor, unsubscribe_prefix="https://mail.example.org/u/")
    assert marked.links == ()
    assert marked.html == anchor


def test_trackable_needs_an_absolute_web_address() -> None:
    assert trackable("https://a.example/")
    assert trackable("HTTP://A.EXAMPLE/")
    assert not trackable("javascript:alert(1)")
    assert not trackable("https://a.example/" + "x" * 5000)


def test_each_message_gets_its_own_click_links_and_image() -> None:
    tracking = Tracking(
        campaign_id=7, public_url="https://t.example/", secret="s", clicks=True, opens=True
    )
    template = tracking.prepare(
        '<html><body><a href="https://a.example/">A</a><a href="https://a.example/">A</a>'
        '<a href="https://b.example/">B</a></body></html>'
    )
    assert template is not None and tracking.links == ("https://a.example/", "https://b.example/")
    first = tracking.apply(template, 11, now=1_000_000)
    second = tracking.apply(template, 12, now=1_000_000)
    assert MARKER_PREFIX not in first
    assert first.count("https://t.example/c/") == 3
    assert first.index('<img src="https://t.example/o/') < first.index("</body>")
    tokens = TrackingTokens("s")
    links = [part.split('"')[0] for part in first.split("https://t.example/c/")[1:]]
    assert links[0] == links[1]
    clicks = [tokens.read_click(link) for link in links]
    assert [(c.campaign_id, c.delivery_id, c.link_index) for c in clicks] == [
        (7, 11, 0),
        (7, 11, 0),
        (7, 11, 1),
    ]
    assert clicks[0].sent_at == 1_000_000
    assert first != second


def test_tokens_cannot_be_altered_or_swapped() -> None:
    tokens = TrackingTokens("secret")
    click = tokens.click(1, 2, 3, 4)
    opened = tokens.open(1, 2, 4)
    with pytest.raises(ValueError):
        tokens.read_click(opened)
    with pytest.raises(ValueError):
        tokens.read_open(click)
    with pytest.raises(ValueError):
        TrackingTokens("another secret").read_click(click)
    with pytest.raises(ValueError):
        tokens.read_click(click[:-2] + ("AA" if not click.endswith("AA") else "BB"))
    assert tokens.read_open(opened).delivery_id == 2


def test_without_click_tracking_the_template_is_untouched() -> None:
    tracking = Tracking(
        campaign_id=1, public_url="https://t.example", secret="s", clicks=False, opens=True
    )
    html = '<a href="https://a.example/">A</a>'
    assert tracking.prepare(html) == html
    assert tracking.apply(html, 1).startswith(html + '<img src="https://t.example/o/')


@pytest.mark.parametrize(
    ("agent", "address", "seconds", "opening", "expected"),
    [
        (BROWSER, "192.0.2.1", 600.0, True, None),
        ("Mozilla/5.0", "192.0.2.1", 600.0, True, Machine.APPLE_PRIVACY),
        (BROWSER, "17.58.1.2", 600.0, True, Machine.APPLE_PRIVACY),
        (BROWSER, "17.58.1.2", 600.0, False, None),
        ("Mozilla/5.0 (compatible; Barracuda)", "192.0.2.1", 600.0, True, Machine.SCANNER),
        ("python-requests/2.31", "192.0.2.1", 600.0, False, Machine.SCANNER),
        ("", None, 600.0, True, Machine.SCANNER),
        (BROWSER, "192.0.2.1", 2.0, False, Machine.PREFETCH),
        (BROWSER, "192.0.2.1", None, True, None),
    ],
)
def test_machine_reasons(
    agent: str, address: str | None, seconds: float | None, opening: bool, expected: Machine | None
) -> None:
    assert machine_reason(agent, address, seconds_since_sent=seconds, opening=opening) == expected


def test_a_campaign_file_chooses_tracking(tmp_path: Path) -> None:
    path = tmp_path / "winter.yaml"
    path.write_text("name: Winter\nsubject: Hi\ntextBody: Hi\ntrack_opens: true\n")
    loaded = load_campaign_file(path)
    assert loaded.content.track_clicks is True and loaded.content.track_opens is True
    path.write_text("name: Winter\nsubject: Hi\ntextBody: Hi\ntrackClicks: 'no'\n")
    with pytest.raises(CampaignFileError, match="trackClicks must be true or false"):
        load_campaign_file(path)
