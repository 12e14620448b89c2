"""Bounce tokens, DSN statuses and the pause thresholds (no database)."""

from __future__ import annotations

import pytest

from campaignd.delivery.bounce_address import BounceTokens, tokens_in
from campaignd.domain.feedback import (
    FeedbackKind,
    Thresholds,
    delivery_of_message_id,
    kind_of_status,
    pause_reason,
)
from campaignd.feedback.reports import read_report
from tests.bounce_samples import arf, dsn, out_of_office


def test_a_bounce_token_names_its_delivery_and_cannot_be_forged() -> None:
    tokens = BounceTokens("secret")
    token = tokens.make(42)
    assert len(token) == 26 and token == token.lower()
    assert tokens.make(42) == token  # the same on every retry
    assert tokens.read(token) == 42
    assert tokens.read(token.upper()) == 42
    assert tokens.make(43) != token
    with pytest.raises(ValueError):
        BounceTokens("another secret").read(token)
    flipped = ("b" if token[0] == "a" else "a") + token[1:]
    with pytest.raises(ValueError):
        tokens.read(flipped)
    with pytest.raises(ValueError):
        tokens.read("not-base32!")
    address = tokens.address(42, "bounce.example.org")
    assert tokens_in(f"To: <{address.upper()}>") == [token]


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "kind"),
    [
        ("failed", "5.1.1", "smtp; 550 5.1.1 user unknown", FeedbackKind.HARD_BOUNCE),
        ("failed", "5.4.4", "", FeedbackKind.HARD_BOUNCE),
        ("failed", "5.2.2", "smtp; 552 mailbox full", FeedbackKind.SOFT_BOUNCE),
        ("failed", "4.4.7", "", FeedbackKind.SOFT_BOUNCE),
        ("failed", "5.0.0", "550 No such user here", FeedbackKind.HARD_BOUNCE),
        ("failed", "5.7.1", "blocked by policy", None),
        ("delayed", "4.2.2", "", None),
        ("delivered", "2.0.0", "", None),
    ],
)
def test_dsn_statuses_have_a_kind(
    action: str, status: str, diagnostic: str, kind: FeedbackKind | None
) -> None:
    assert kind_of_status(action, status, diagnostic) is kind


def test_rates_pause_only_above_their_limits_and_past_the_sample() -> None:
    limits = Thresholds(complaint_rate=0.003, hard_bounce_rate=0.05, minimum_sent=1000)
    assert pause_reason(sent=999, hard_bounces=900, complaints=900, limits=limits) is None
    assert pause_reason(sent=1000, hard_bounces=50, complaints=3, limits=limits) is None
    complaint = pause_reason(sent=1000, hard_bounces=0, complaints=4, limits=limits)
    assert complaint is not None and "complaint rate 0.40%" in complaint
    bounce = pause_reason(sent=1000, hard_bounces=51, complaints=0, limits=limits)
    assert bounce is not None and "hard-bounce rate 5.10%" in bounce


def test_our_message_ids_name_a_delivery_of_this_installation_only() -> None:
    assert delivery_of_message_id("<12.345.ab12cd34@acme.example>", "ab12cd34") == 345
    assert delivery_of_message_id("12.345.ab12cd34@acme.example", "ab12cd34") == 345
    assert delivery_of_message_id("<12.345.ffffffff@acme.example>", "ab12cd34") is None
    assert delivery_of_message_id("<random@gmail.com>", "ab12cd34") is None


def test_reports_say_what_came_back_and_where_it_points() -> None:
    token = BounceTokens("secret").make(7)
    bounce = dsn(
        to=f"bounces+{token}@bounce.example.org",
        recipient="ada@example.org",
        original_headers="Message-ID: <3.7.ab12cd34@acme.example>\r\n",
    )
    report = read_report(bounce)
    assert report is not None
    assert [(item.email, item.kind) for item in report.recipients] == [
        ("ada@example.org", FeedbackKind.HARD_BOUNCE)
    ]
    assert report.tokens == [token]
    assert "<3.7.ab12cd34@acme.example>" in report.message_ids
    assert report.report_id.startswith("<")

    full = dsn(to="x@example.org", recipient="bob@example.org", status="5.2.2", diagnostic="full")
    soft = read_report(full)
    assert soft is not None and soft.recipients[0].kind is FeedbackKind.SOFT_BOUNCE
    delayed = dsn(to="x@example.org", recipient="bob@example.org", action="delayed")
    assert read_report(delayed) is None
    assert read_report(out_of_office(to="x@example.org", sender="bob@example.org")) is None


def test_an_arf_report_is_a_complaint_unless_it_says_not_spam() -> None:
    original = b"Message-ID: <3.8.ab12cd34@acme.example>\r\nTo: bob@example.org\r\n\r\nHi\r\n"
    report = read_report(arf(original=original, recipient="bob@example.org"))
    assert report is not None
    assert [(item.email, item.kind) for item in report.recipients] == [
        ("bob@example.org", FeedbackKind.COMPLAINT)
    ]
    assert report.message_ids[0] == "<3.8.ab12cd34@acme.example>"
    redacted = read_report(arf(original=original))
    assert redacted is not None and redacted.recipients[0].email is None
    not_spam = arf(original=original).replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    assert read_report(not_spam) is None
