"""``campaignd demo`` on the embedded default: SQLite file and .eml outbox in the working folder."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from campaignd.store.database import sync_url
from campaignd.store.schema import campaigns, deliveries
from tests.integration.test_cli_campaigns import ok, refused


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No CAMPAIGND_* variables: every default, in the test's folder."""
    import os

    for name in list(os.environ):
        if name.startswith("CAMPAIGND_") and not name.startswith("CAMPAIGND_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_demo_twice_sends_two_campaigns_to_fresh_addresses(embedded: Path) -> None:
    first = ok("demo", "--recipients", "40", "--delay", "1").stdout
    second = ok("demo", "--recipients", "40", "--delay", "1").stdout
    for output, campaign_id in ((first, 1), (second, 2)):
        assert f"campaign {campaign_id} is sent: 40 sent, 0 failed, 0 skipped" in output
        assert "40 .eml files of this campaign" in output
        assert f"http://127.0.0.1:8000/admin/marketing/campaigns/{campaign_id}" in output
        assert "campaignd serve" in output
    engine = create_engine(sync_url(f"sqlite:///{embedded / 'campaignd.db'}"))
    with engine.connect() as connection:
        statuses = connection.execute(select(campaigns.c.status)).scalars().all()
        addresses = connection.execute(select(deliveries.c.email)).scalars().all()
    engine.dispose()
    assert statuses == ["sent", "sent"]
    assert len(set(addresses)) == 80
    assert all(address.endswith(("@example.com", "@example.org")) for address in addresses)
    messages = sorted((embedded / "outbox").glob("*.eml"))
    assert len(messages) == 80
    message = email.message_from_bytes(messages[0].read_bytes())
    first_name = message["To"].split(".")[0].title()
    assert message["Subject"].startswith(f"{first_name}, the ")
    assert message["List-Unsubscribe"]


def test_demo_refuses_to_send_real_mail(embedded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGND_EMAIL_TRANSPORT", "smtp://127.0.0.1:25")
    assert "sends no real mail" in refused("demo")
    assert not (embedded / "outbox").exists()
    assert not (embedded / "campaignd.db").exists()
