"""Delivery over STARTTLS and implicit TLS (smtps) to a real server with a test certificate.

The transport verifies the server with ``ssl.create_default_context()`` (aiosmtplib builds
it on each connect), so the tests trust their certificate the way an operator trusts a
private CA: ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

import pytest

from campaignd.delivery.transports import SmtpTarget, SmtpTransport
from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.delivery_support import (
    campaign_of,
    deliveries_of,
    organization,
    sending_campaign,
    worker,
)
from tests.integration.smtp_server import Certificate, SmtpServer, make_certificate

USER, PASSWORD = "mailer", "s3cret:/@"
CREDENTIALS = "mailer:s3cret%3A%2F%40"
SCHEMES = {"starttls": "smtp+starttls", "tls": "smtps"}


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path / "tls")


@pytest.fixture
def trusted(certificate: Certificate, monkeypatch: pytest.MonkeyPatch) -> Certificate:
    """The test certificate is the CA store of every TLS context created from now on."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return certificate


def tls_server(security: str, certificate: Certificate, **options: Any) -> SmtpServer:
    """STARTTLS offered (and required before MAIL and AUTH), or TLS from the first byte."""
    if security == "starttls":
        options.setdefault("auth_require_tls", True)
        return SmtpServer(starttls_context=certificate.server_context(), **options)
    return SmtpServer(tls_context=certificate.server_context(), **options)


def configured(settings: Settings, url: str, **changes: Any) -> Settings:
    update = {
        "email_transport": url,
        "smtp_connections": 2,
        "retry_backoff": 0.01,
        "max_attempts": 2,
        "from_address": "News <news@acme.example>",
        **changes,
    }
    return settings.model_copy(update=update)


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_messages_are_delivered_over_tls_with_authentication(
    database: Database, settings: Settings, trusted: Certificate, security: str
) -> None:
    with tls_server(security, trusted, credentials=(USER, PASSWORD)) as server:
        url = f"{SCHEMES[security]}://{CREDENTIALS}@127.0.0.1:{server.port}"
        smtp_settings = configured(settings, url)
        organization_id = await organization(database)
        recipients = [f"user{index}@example.org" for index in range(5)]
        campaign_id = await sending_campaign(
            database, smtp_settings, recipients, organization_id=organization_id
        )
        await worker(database, smtp_settings).run_burst()

        rows = await deliveries_of(database, campaign_id)
        assert {row["status"] for row in rows.values()} == {"sent"}
        assert {row["attempts"] for row in rows.values()} == {1}
        assert sorted(message.recipients[0] for message in server.messages) == recipients
        assert all(message.tls for message in server.messages)
        assert server.logins
        assert all(login.accepted and login.tls for login in server.logins)
        assert {login.user for login in server.logins} == {USER}
        assert len(server.logins) == server.connections <= smtp_settings.smtp_connections
        assert (await campaign_of(database, campaign_id))["status"] == "sent"


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_pipelining_offered_over_tls_is_used(
    database: Database, settings: Settings, trusted: Certificate, security: str
) -> None:
    with tls_server(security, trusted, credentials=(USER, PASSWORD), pipelining=True) as server:
        url = f"{SCHEMES[security]}://{CREDENTIALS}@127.0.0.1:{server.port}"
        smtp_settings = configured(settings, url)
        organization_id = await organization(database)
        recipients = [f"user{index}@example.org" for index in range(4)]
        campaign_id = await sending_campaign(
            database, smtp_settings, recipients, organization_id=organization_id
        )
        await worker(database, smtp_settings).run_burst()

        rows = await deliveries_of(database, campaign_id)
        assert {row["status"] for row in rows.values()} == {"sent"}
        assert sorted(message.recipients[0] for message in server.messages) == recipients
        assert all(message.tls for message in server.messages)
        # the EHLO after STARTTLS offers it too: MAIL, RCPT and DATA came in one read
        assert server.envelope_reads == [("MAIL", "RCPT", "DATA")] * len(recipients)


async def test_an_explicit_tls_context_of_the_pool_is_used(
    database: Database, settings: Settings, certificate: Certificate
) -> None:
    context = ssl.create_default_context(cafile=str(certificate.cert_path))
    with tls_server("tls", certificate) as server:
        url = f"smtps://127.0.0.1:{server.port}"
        smtp_settings = configured(settings, url)
        transport = SmtpTransport(SmtpTarget.from_url(url), connections=2, tls_context=context)
        organization_id = await organization(database)
        campaign_id = await sending_campaign(
            database, smtp_settings, ["ada@example.org"], organization_id=organization_id
        )
        await worker(database, smtp_settings, transport=transport).run_burst()

        row = (await deliveries_of(database, campaign_id))["ada@example.org"]
        assert row["status"] == "sent"
        assert [message.tls for message in server.messages] == [True]


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_an_untrusted_certificate_fails_and_nothing_is_sent(
    database: Database, settings: Settings, trusted: Certificate, tmp_path: Path, security: str
) -> None:
    stranger = make_certificate(tmp_path / "stranger", name="somebody else")
    # a server that would take the login and the message in clear: only the client stops it
    lax = {"require_starttls": False, "auth_require_tls": False} if security == "starttls" else {}
    with tls_server(security, stranger, credentials=(USER, PASSWORD), **lax) as server:
        url = f"{SCHEMES[security]}://{CREDENTIALS}@127.0.0.1:{server.port}"
        smtp_settings = configured(settings, url)
        organization_id = await organization(database)
        campaign_id = await sending_campaign(
            database, smtp_settings, ["ada@example.org"], organization_id=organization_id
        )
        await worker(database, smtp_settings).run_burst()

        row = (await deliveries_of(database, campaign_id))["ada@example.org"]
        assert (row["status"], row["attempts"]) == ("failed", smtp_settings.max_attempts)
        error = row["last_error"]
        assert error.startswith("cannot connect to 127.0.0.1")
        assert "CERTIFICATE_VERIFY_FAILED" in error
        assert re.search(r"certificate verify failed: self.signed certificate", error)
        assert "gave up after 2 attempts" in error
        # STARTTLS: the SMTP session began in clear, each attempt; implicit TLS: no session
        # ever began (the handshake comes first)
        opened = smtp_settings.max_attempts if security == "starttls" else 0
        assert server.connections == opened
        assert server.logins == []
        assert server.messages == []
        assert (await campaign_of(database, campaign_id))["status"] == "failed"


async def test_a_campaign_meeting_an_untrusted_certificate_pauses_and_names_it(
    database: Database, settings: Settings, trusted: Certificate, tmp_path: Path
) -> None:
    stranger = make_certificate(tmp_path / "stranger", name="somebody else")
    with tls_server("tls", stranger) as server:
        smtp_settings = configured(settings, f"smtps://127.0.0.1:{server.port}").model_copy(
            update={"max_send_errors": 3, "max_attempts": 10}
        )
        organization_id = await organization(database)
        recipients = [f"user{index}@example.org" for index in range(6)]
        campaign_id = await sending_campaign(
            database, smtp_settings, recipients, organization_id=organization_id
        )
        await worker(database, smtp_settings).run_burst()

        campaign = await campaign_of(database, campaign_id)
        assert campaign["status"] == "paused"
        assert "failed sends in a row" in campaign["status_reason"]
        assert "CERTIFICATE_VERIFY_FAILED" in campaign["status_reason"]
        assert server.messages == []


async def test_starttls_is_required_not_opportunistic(
    database: Database, settings: Settings, trusted: Certificate
) -> None:
    with SmtpServer(credentials=(USER, PASSWORD)) as server:  # no STARTTLS, AUTH in clear
        url = f"smtp+starttls://{CREDENTIALS}@127.0.0.1:{server.port}"
        smtp_settings = configured(settings, url)
        organization_id = await organization(database)
        campaign_id = await sending_campaign(
            database, smtp_settings, ["ada@example.org"], organization_id=organization_id
        )
        await worker(database, smtp_settings).run_burst()

        row = (await deliveries_of(database, campaign_id))["ada@example.org"]
        assert (row["status"], row["attempts"]) == ("failed", smtp_settings.max_attempts)
        assert "STARTTLS extension not supported" in row["last_error"]
        assert server.logins == []
        assert server.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_wrong_credentials_fail_at_once(
    database: Database, settings: Settings, trusted: Certificate, security: str
) -> None:
    with tls_server(security, trusted, credentials=(USER, PASSWORD)) as server:
        url = f"{SCHEMES[security]}://{USER}:wrong@127.0.0.1:{server.port}"
        smtp_settings = configured(settings, url, max_attempts=3)
        organization_id = await organization(database)
        campaign_id = await sending_campaign(
            database, smtp_settings, ["ada@example.org"], organization_id=organization_id
        )
        await worker(database, smtp_settings).run_burst()

        row = (await deliveries_of(database, campaign_id))["ada@example.org"]
        # 535 is a permanent reply: failed on the first attempt, the reply kept as the error
        assert (row["status"], row["attempts"]) == ("failed", 1)
        assert row["last_error"].startswith("535 ")
        assert "Authentication credentials invalid" in row["last_error"]
        assert server.logins
        assert all(login.tls and not login.accepted for login in server.logins)
        assert server.messages == []
        assert (await campaign_of(database, campaign_id))["status"] == "failed"
