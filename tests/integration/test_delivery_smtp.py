"""Delivery to a real SMTP server: headers and MIME of the bytes it received, outcomes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from campaignd.delivery.messages import Message
from campaignd.delivery.transports import SmtpTarget, SmtpTransport
from campaignd.delivery.unsubscribe import read_token
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.secrets import installation_id, instance_secret
from tests.integration.delivery_support import (
    campaign_of,
    deliveries_of,
    latest_run,
    ledger,
    organization,
    sending_campaign,
    worker,
)
from tests.integration.smtp_server import NO_SUCH_USER, SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "email_transport": smtp.url,
            "smtp_connections": 4,
            "retry_backoff": 0.01,
            "max_attempts": 3,
            "public_url": "https://mail.example.org",
            "from_address": "News <news@acme.example>",
        }
    )


async def test_messages_carry_the_headers_and_both_bodies(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        smtp_settings,
        [("ada@example.org", {"name": "Ada <Lovelace> & Zoë"}), "bob@example.org"],
        organization_id=organization_id,
        subject="Grüße, {{ name }}",
        html_body="<html><body><p>Hi {{ name }}</p></body></html>",
        text_body="Hi {{ name }}\n.a line starting with a dot",
        reply_to="help@acme.example",
    )
    await worker(database, smtp_settings).run_burst()

    rows = await deliveries_of(database, campaign_id)
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert rows["ada@example.org"]["server_reply"].startswith("250")
    assert rows["ada@example.org"]["sent_at"] is not None
    assert len(smtp.messages) == 2
    received = smtp.messages_to("ada@example.org")[0]
    assert received.sender == "news@acme.example"
    message = received.parsed()
    delivery_id = rows["ada@example.org"]["id"]
    installation = await installation_id(database)
    assert re.fullmatch(r"[0-9a-f]{8}", installation)
    assert message["Message-ID"] == f"<{campaign_id}.{delivery_id}.{installation}@acme.example>"
    assert message["List-Id"] == "<acme.acme.example>"
    assert message["Subject"] == "Grüße, Ada <Lovelace> & Zoë"
    assert message["From"] == "News <news@acme.example>"
    assert message["Reply-To"] == "help@acme.example"
    assert message["To"] == "ada@example.org"
    assert message["X-Campaign-Id"] == str(campaign_id)
    assert message["Date"] is not None
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(message["List-Unsubscribe"]).strip("<>")
    assert link.startswith("https://mail.example.org/u/")
    secret = await instance_secret(database, "unsubscribe")
    assert read_token(secret, link.rsplit("/", 1)[1]) == (organization_id, "ada@example.org")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Hi Ada <Lovelace> & Zoë" in text.get_content()
    assert "\n.a line starting with a dot" in text.get_content()
    assert "<p>Hi Ada &lt;Lovelace&gt; &amp; Zoë</p>" in html.get_content()
    assert link in text.get_content()  # the footer, since the body has no unsubscribe_url
    html_content = html.get_content()
    assert f'<a href="{link}">Unsubscribe</a>' in html_content
    assert html_content.index("Unsubscribe") < html_content.index("</body>")
    for line in received.data.split(b"\r\n"):
        assert len(line) <= 998
    assert b"\n" not in received.data.replace(b"\r\n", b"")

    campaign = await campaign_of(database, campaign_id)
    assert campaign["status"] == "sent"
    run = await latest_run(database, campaign_id)
    assert (run["live"], run["status"], run["sent"], run["failed"]) == (False, "sent", 2, 0)
    assert run["finished_at"] is not None


async def test_a_body_using_the_link_gets_no_footer_and_a_text_part_made_from_it(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    organization_id = await organization(database)
    await sending_campaign(
        database,
        smtp_settings,
        ["ada@example.org"],
        organization_id=organization_id,
        html_body='<p>Bye: <a href="{{ unsubscribe_url }}">leave</a></p>',
        text_body=None,
    )
    await worker(database, smtp_settings).run_burst()
    message = smtp.messages[0].parsed()
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in message.iter_parts())
    link = str(message["List-Unsubscribe"]).strip("<>")
    assert f'<a href="{link}">leave</a>' in html
    assert "Unsubscribe</a>" not in html
    assert text.strip() == f"Bye: leave ({link})"


async def test_the_connections_are_reused(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    organization_id = await organization(database)
    recipients = [f"user{index}@example.org" for index in range(60)]
    await sending_campaign(database, smtp_settings, recipients, organization_id=organization_id)
    await worker(database, smtp_settings).run_burst()
    assert sorted(message.recipients[0] for message in smtp.messages) == sorted(recipients)
    assert smtp.connections <= smtp_settings.smtp_connections


async def test_transient_errors_are_retried_then_sent(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database, smtp_settings, ["ada@example.org"], organization_id=organization_id
    )
    smtp.fail_addresses(["ada@example.org"], "451 4.7.1 greylisted", times=2, stage="data")
    await worker(database, smtp_settings).run_burst()
    row = (await deliveries_of(database, campaign_id))["ada@example.org"]
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert len(smtp.refused) == 2
    assert len(smtp.messages) == 1
    assert (await campaign_of(database, campaign_id))["status"] == "sent"


async def test_transient_errors_fail_after_max_attempts_and_give_the_reservation_back(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        smtp_settings,
        ["ada@example.org", "bob@example.org"],
        organization_id=organization_id,
    )
    assert (await ledger(database))["ada@example.org"] == campaign_id
    smtp.fail_addresses(["ada@example.org"], "421 4.3.2 busy", stage="data")
    await worker(database, smtp_settings).run_burst()
    rows = await deliveries_of(database, campaign_id)
    ada = rows["ada@example.org"]
    assert (ada["status"], ada["attempts"]) == ("failed", smtp_settings.max_attempts)
    assert "421" in ada["last_error"] and "gave up after 3 attempts" in ada["last_error"]
    assert rows["bob@example.org"]["status"] == "sent"
    holders = await ledger(database)
    assert "ada@example.org" not in holders  # the failed one's reservation is given back
    assert holders["bob@example.org"] == campaign_id
    run = await latest_run(database, campaign_id)
    assert (run["status"], run["sent"], run["failed"]) == ("sent", 1, 1)


async def test_a_dropped_connection_is_retried(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database, smtp_settings, ["ada@example.org"], organization_id=organization_id
    )
    smtp.drop_next(1)
    await worker(database, smtp_settings).run_burst()
    row = (await deliveries_of(database, campaign_id))["ada@example.org"]
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert smtp.dropped == 1
    assert len(smtp.messages) == 1


async def test_a_permanent_error_fails_at_once(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database, smtp_settings, ["ada@example.org"], organization_id=organization_id
    )
    smtp.fail_addresses(["ada@example.org"], "554 5.7.1 rejected as spam", stage="data")
    await worker(database, smtp_settings).run_burst()
    row = (await deliveries_of(database, campaign_id))["ada@example.org"]
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == "554 5.7.1 rejected as spam"
    campaign = await campaign_of(database, campaign_id)
    assert campaign["status"] == "failed"
    run = await latest_run(database, campaign_id)
    assert (run["status"], run["failed"], run["error"]) == (
        "failed",
        1,
        "no message could be sent",
    )
    async with database.connection() as connection:
        from campaignd.store.suppressions import is_suppressed

        assert not await is_suppressed(
            connection, organization_id=organization_id, email="ada@example.org"
        )


async def test_no_such_user_suppresses_the_address_as_bounced(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    from campaignd.store.suppressions import list_suppressions

    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        smtp_settings,
        ["ghost@example.org", "bob@example.org"],
        organization_id=organization_id,
    )
    smtp.fail_addresses(["ghost@example.org"], NO_SUCH_USER)
    await worker(database, smtp_settings).run_burst()
    rows = await deliveries_of(database, campaign_id)
    assert rows["ghost@example.org"]["status"] == "failed"
    assert rows["ghost@example.org"]["last_error"] == NO_SUCH_USER
    async with database.connection() as connection:
        listed = await list_suppressions(connection, organization_id=organization_id)
    assert [(row["email"], row["reason"]) for row in listed] == [("ghost@example.org", "bounced")]
    assert (await campaign_of(database, campaign_id))["status"] == "sent"


async def test_addresses_suppressed_after_fan_out_are_skipped(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    from campaignd.store.columns import utcnow
    from campaignd.store.suppressions import add_suppressions

    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database,
        smtp_settings,
        ["ada@example.org", "bob@example.org"],
        organization_id=organization_id,
    )
    async with database.transaction() as connection:
        await add_suppressions(
            connection,
            organization_id=organization_id,
            emails=["ada@example.org"],
            reason="unsubscribed",
            now=utcnow(),
        )
    await worker(database, smtp_settings).run_burst()
    rows = await deliveries_of(database, campaign_id)
    ada = rows["ada@example.org"]
    assert (ada["status"], ada["code"]) == ("skipped", "suppressed")
    assert ada["reason"] == "on the suppression list (unsubscribed)"
    assert [message.recipients for message in smtp.messages] == [["bob@example.org"]]
    assert "ada@example.org" not in await ledger(database)
    run = await latest_run(database, campaign_id)
    assert (run["status"], run["sent"], run["skipped"]) == ("sent", 1, 1)


async def test_a_campaign_failing_in_a_row_pauses_itself_with_a_reason(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    settings = smtp_settings.model_copy(update={"max_send_errors": 5, "smtp_connections": 1})
    organization_id = await organization(database)
    recipients = [f"user{index}@example.org" for index in range(20)]
    campaign_id = await sending_campaign(
        database, settings, recipients, organization_id=organization_id
    )
    smtp.fail_addresses(recipients, "554 5.7.1 policy", stage="data")
    await worker(database, settings).run_burst()
    campaign = await campaign_of(database, campaign_id)
    assert campaign["status"] == "paused"
    assert "5 failed sends in a row" in campaign["status_reason"]
    assert "last error: 554 5.7.1 policy" in campaign["status_reason"]
    rows = await deliveries_of(database, campaign_id)
    statuses = sorted(row["status"] for row in rows.values())
    assert statuses.count("failed") == 5
    assert statuses.count("queued") == 15
    assert all(row["lease_owner"] is None for row in rows.values())
    assert len(smtp.refused) == 5


async def test_smtp_authentication(database: Database, settings: Settings) -> None:
    with SmtpServer(credentials=("mailer", "s3cret:/@")) as server:
        url = f"smtp://mailer:s3cret%3A%2F%40@{server.host}:{server.port}"
        configured = settings.model_copy(update={"email_transport": url})
        organization_id = await organization(database)
        campaign_id = await sending_campaign(
            database, configured, ["ada@example.org"], organization_id=organization_id
        )
        await worker(database, configured).run_burst()
        assert len(server.messages) == 1
        assert (await campaign_of(database, campaign_id))["status"] == "sent"


async def test_an_address_that_would_break_the_command_line_is_refused_before_sending(
    smtp: SmtpServer,
) -> None:
    transport = SmtpTransport(SmtpTarget.from_url(smtp.url), connections=1)
    unsafe = Message("1.1@acme.example", "news@acme.example", "a@b.org> NOTIFY=NEVER", b"x\r\n")
    with pytest.raises(ValueError, match="cannot be sent"):
        await transport.send(unsafe)
    safe = Message("1.2@acme.example", "news@acme.example", "user@example.org", b"Hi\r\n")
    reply = await transport.send(safe)
    await transport.close()
    assert reply.accepted
    assert [message.recipients for message in smtp.messages] == [["user@example.org"]]
