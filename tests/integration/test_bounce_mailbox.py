"""The bounce mailbox on a real Dovecot: DSNs and ARF complaints appended over IMAP,
polled, applied to the deliveries and the suppression list, and never applied twice."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaignd.actions.bounce_mailbox import poll_forever, poll_once
from campaignd.cli import app
from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.bounce_samples import arf, dsn, exim_bounce, out_of_office
from tests.integration.delivery_support import deliveries_of, eventually
from tests.integration.dovecot_server import DovecotServer
from tests.integration.feedback_support import (
    BOUNCE_DOMAIN,
    audit_count,
    feedback_settings,
    sent_campaign,
    services_of,
    suppression_reason,
)
from tests.integration.smtp_server import SmtpServer
from tests.support import missing

RECIPIENTS = [f"{name}@example.org" for name in ("ada", "bob", "carol", "dave", "erin")]


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        missing("dovecot is not installed (apt-get install dovecot-imapd)")
    with DovecotServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def mailbox_settings(settings: Settings, smtp: SmtpServer, dovecot: DovecotServer) -> Settings:
    return feedback_settings(settings, smtp.url, bounce_imap_url=dovecot.url)


async def test_reports_in_the_mailbox_become_outcomes_and_suppressions_once(
    database: Database, mailbox_settings: Settings, smtp: SmtpServer, dovecot: DovecotServer
) -> None:
    organization_id, campaign_id, _ = await sent_campaign(database, mailbox_settings, RECIPIENTS)
    sent = {email: smtp.messages_to(email)[0] for email in RECIPIENTS}
    assert sent["ada@example.org"].sender.endswith("@" + BOUNCE_DOMAIN)

    # ada: a DSN to her message's own bounce address
    dovecot.append(dsn(to=sent["ada@example.org"].sender, recipient="ada@example.org"))
    # bob: a complaint that keeps only the original message (its Message-ID)
    dovecot.append(arf(original=sent["bob@example.org"].data))
    # carol: an Exim bounce sent to a bare address: only the failed address is left
    dovecot.append(exim_bounce(to=f"bounces@{BOUNCE_DOMAIN}", recipient="carol@example.org"))
    # dave: a delay notice, not a bounce
    dovecot.append(
        dsn(
            to=sent["dave@example.org"].sender,
            recipient="dave@example.org",
            action="delayed",
            status="4.4.7",
            diagnostic="smtp; 450 4.4.7 try later",
        )
    )
    # erin: an out-of-office reply
    dovecot.append(out_of_office(to=sent["erin@example.org"].sender, sender="erin@example.org"))

    services = services_of(database, mailbox_settings)
    result = await poll_once(services)
    assert (result.read, result.applied, result.ignored, result.unmatched) == (5, 3, 2, 0)

    rows = await deliveries_of(database, campaign_id)
    assert {email: row["status"] for email, row in rows.items()} == {
        "ada@example.org": "bounced",
        "bob@example.org": "complained",
        "carol@example.org": "bounced",
        "dave@example.org": "sent",
        "erin@example.org": "sent",
    }
    reasons = {
        email: await suppression_reason(database, organization_id, email) for email in RECIPIENTS
    }
    assert reasons == {
        "ada@example.org": "bounced",
        "bob@example.org": "complained",
        "carol@example.org": "bounced",
        "dave@example.org": None,
        "erin@example.org": None,
    }
    flags = dovecot.flags()
    assert all("$CampaigndProcessed" in item for item in flags)
    assert sum("\\Flagged" in item for item in flags) == 2  # left for a person to look at

    again = await poll_once(services)
    assert again.read == 0
    assert await audit_count(database, "feedback.hard_bounce") == 2
    assert await audit_count(database, "feedback.complaint") == 1


async def test_a_message_read_again_changes_nothing(
    database: Database, mailbox_settings: Settings, smtp: SmtpServer, dovecot: DovecotServer
) -> None:
    """A crash between applying a report and marking it processed reads it again."""
    _, campaign_id, _ = await sent_campaign(database, mailbox_settings, RECIPIENTS[:1])
    report = dsn(to=smtp.messages[0].sender, recipient="ada@example.org")
    dovecot.append(report)
    dovecot.append(report)  # the same report (same Message-ID) twice
    result = await poll_once(services_of(database, mailbox_settings))
    assert (result.applied, result.repeated) == (1, 1)
    assert await audit_count(database, "feedback.hard_bounce") == 1
    assert (await deliveries_of(database, campaign_id))["ada@example.org"]["status"] == "bounced"


def test_the_cli_drains_the_mailbox_once(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dovecot: DovecotServer,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAMPAIGND_DATABASE_URL", database_url)
    monkeypatch.setenv("CAMPAIGND_BOUNCE_IMAP_URL", dovecot.url)
    monkeypatch.delenv("CAMPAIGND_REDIS_URL", raising=False)
    dovecot.append(out_of_office(to=f"bounces@{BOUNCE_DOMAIN}", sender="x@example.org"))
    runner = CliRunner()
    first = runner.invoke(app, ["bounces", "poll", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["read"] == 1
    second = runner.invoke(app, ["bounces", "poll"])
    assert second.exit_code == 0, second.output
    assert "0 messages read" in second.stdout

    monkeypatch.setenv("CAMPAIGND_BOUNCE_IMAP_URL", dovecot.url.replace("s3cret", "wrong"))
    refused = runner.invoke(app, ["bounces", "poll"])
    assert refused.exit_code == 1
    assert "bounce mailbox" in refused.output


async def test_the_service_polls_the_mailbox_until_it_stops(
    database: Database, mailbox_settings: Settings, smtp: SmtpServer, dovecot: DovecotServer
) -> None:
    settings = mailbox_settings.model_copy(update={"bounce_imap_interval": 0.2})
    _, campaign_id, _ = await sent_campaign(database, settings, RECIPIENTS[:1])
    stop = asyncio.Event()
    poller = asyncio.create_task(poll_forever(services_of(database, settings), stop))
    dovecot.append(dsn(to=smtp.messages[0].sender, recipient="ada@example.org"))

    async def bounced() -> bool:
        rows = await deliveries_of(database, campaign_id)
        return rows["ada@example.org"]["status"] == "bounced"

    await eventually(bounced, what="the poller to apply the bounce")
    stop.set()
    await asyncio.wait_for(poller, timeout=30)
