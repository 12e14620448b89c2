"""The pure part of webhooks: the Standard Webhooks signature (the specification's own
example), which URLs and addresses are refused, event types, the retry schedule."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest

from campaignd.domain.webhooks import (
    RETRY_DELAYS,
    WebhookProblem,
    checked_event_types,
    checked_url,
    new_secret,
    refused_address,
    retry_delay,
    secret_key,
    signature,
)


def test_the_signature_matches_the_standard_webhooks_example() -> None:
    assert (
        signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_new_secrets_are_32_random_bytes_shown_as_whsec() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32


@pytest.mark.parametrize(
    ("address", "loopback", "private", "refused"),
    [
        ("93.184.216.34", False, False, None),
        ("127.0.0.1", False, False, "a loopback address"),
        ("127.0.0.1", True, False, None),
        ("::1", False, False, "a loopback address"),
        ("10.1.2.3", False, False, "a private network address"),
        ("10.1.2.3", False, True, None),
        ("192.168.1.1", False, False, "a private network address"),
        ("100.64.0.1", False, False, "a private network address"),
        ("fd00::1", False, False, "a private network address"),
        ("169.254.169.254", True, True, "a link-local address"),
        ("fe80::1", True, True, "a link-local address"),
        ("::ffff:10.0.0.1", False, False, "a private network address"),
        ("0.0.0.0", True, True, "not a unicast internet address"),
        ("224.0.0.1", True, True, "not a unicast internet address"),
    ],
)
def test_refused_addresses(
    address: str, loopback: bool, private: bool, refused: str | None
) -> None:
    found = refused_address(
        ipaddress.ip_address(address), allow_loopback=loopback, allow_private=private
    )
    assert found == refused


@pytest.mark.parametrize(
    ("url", "loopback", "problem"),
    [
        ("https://app.example.org/hooks", False, None),
        ("http://app.example.org/hooks", False, "must use https"),
        ("http://127.0.0.1:8080/hooks", True, None),
        ("http://127.0.0.1:8080/hooks", False, "must use https"),
        ("https://localhost/hooks", False, "loopback"),
        ("http://localhost:9/hooks", True, None),
        ("https://10.0.0.1/x", True, "private network"),
        ("ftp://app.example.org/x", False, "https:// URL"),
        ("https://user:secret@app.example.org/x", False, "user name or password"),
        ("https:///nohost", False, "https:// URL"),
        ("", False, "required"),
        ("https://app.example.org:99999/x", False, "not a URL"),
    ],
)
def test_checked_url(url: str, loopback: bool, problem: str | None) -> None:
    if problem is None:
        assert checked_url(url, allow_loopback=loopback, allow_private=False) == url
        return
    with pytest.raises(WebhookProblem, match=problem) as raised:
        checked_url(url, allow_loopback=loopback, allow_private=False)
    assert str(raised.value).startswith("url: ")


def test_event_types_are_checked_and_put_in_order() -> None:
    assert checked_event_types(["clicked", "sent", "sent "]) == ("sent", "clicked")
    with pytest.raises(WebhookProblem, match="unknown event type 'delivered'"):
        checked_event_types(["sent", "delivered"])
    with pytest.raises(WebhookProblem, match="at least one"):
        checked_event_types([" "])


def test_retries_last_about_a_day_then_stop() -> None:
    total = sum(RETRY_DELAYS, timedelta())
    assert timedelta(hours=23) < total < timedelta(hours=25)
    assert retry_delay(1) == timedelta(seconds=5)
    assert all(
        retry_delay(n) < retry_delay(n + 1)  # type: ignore[operator]
        for n in range(1, len(RETRY_DELAYS) - 1)
        if RETRY_DELAYS[n - 1] != RETRY_DELAYS[n]
    )
    assert retry_delay(len(RETRY_DELAYS) + 1) is None
