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
