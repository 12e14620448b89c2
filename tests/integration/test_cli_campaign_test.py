"""``campaignd campaign test`` against real databases and a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from campaignd.store.schema import audit_log, cooldown_ledger, deliveries
from tests.integration.smtp_server import SmtpServer
from tests.integration.test_cli_campaigns import count, engine, new_campaign, ok, refused

__all__ = ["engine"]

RECIPIENTS = [
    {"email": "ada@example.com", "vars": {"first_name": "Ada"}},
    {"email": "grace@example.com", "vars": {"first_name": "Grace"}},
]


@pytest.fixture
def smtp(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        monkeypatch.setenv("CAMPAIGND_EMAIL_TRANSPORT", server.url)
        yield server


def test_sends_the_chosen_recipient_s_message_marked_as_a_test(
    engine: Engine, smtp: SmtpServer, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path, recipients=RECIPIENTS)
    result = ok(
        "campaign", "test", str(campaign_id), "--to", "me@example.net",
        "--to", "boss@example.net", "--recipient", "grace@example.com",
    )  # fmt: skip
    assert "to 2 of 2 addresses, as grace@example.com gets it" in result.stdout
    subjects = {message.recipients[0]: message.parsed()["Subject"] for message in smtp.messages}
    assert subjects == {
        "me@example.net": "[Test] Hello Grace",
        "boss@example.net": "[Test] Hello Grace",
    }
    document = json.loads(
        ok("campaign", "test", str(campaign_id), "--to", "me@example.net", "--json").stdout
    )
    assert document == {"sent": 1, "recipient": "ada@example.com", "refused": []}
    assert smtp.messages[-1].parsed()["Subject"] == "[Test] Hello Ada"
    assert count(engine, cooldown_ledger) == 0
    assert count(engine, deliveries, deliveries.c.status != "queued") == 0
    assert count(engine, audit_log, audit_log.c.action == "campaign.test") == 2


def test_refusals_name_what_is_wrong_and_send_nothing(
    engine: Engine, smtp: SmtpServer, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(tmp_path, recipients=RECIPIENTS)
    eleven = [argument for n in range(11) for argument in ("--to", f"p{n}@example.net")]
    assert "at most 10 addresses" in refused("campaign", "test", str(campaign_id), *eleven)
    message = refused("campaign", "test", str(campaign_id), "--to", "nope")
    assert "to[0]: 'nope' is not a valid address" in message
    message = refused(
        "campaign", "test", str(campaign_id), "--to", "me@example.net",
        "--recipient", "who@example.org",
    )  # fmt: skip
    assert "recipient: who@example.org is not one of campaign" in message
    assert "not found" in refused("campaign", "test", "999", "--to", "me@example.net")
    assert smtp.messages == []
    assert count(engine, audit_log, audit_log.c.action == "campaign.test") == 0
