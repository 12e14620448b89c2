"""SMTP pipelining (RFC 2920) against real aiosmtpd servers: one whose EHLO offers
PIPELINING and one whose does not. Each server records the commands each of its reads
holds, so a test sees whether MAIL, RCPT and DATA really came in one write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from campaignd.delivery.messages import Message
from campaignd.delivery.transports import Reply, SmtpTarget, SmtpTransport
from campaignd.settings import Settings, SettingsError, load_settings
from campaignd.store.database import Database
from campaignd.store.rows import Row
from tests.integration.delivery_support import (
    deliveries_of,
    organization,
    sending_campaign,
    worker,
)
from tests.integration.smtp_server import DROP, NO_SUCH_USER, SmtpServer

PIPELINED = ("MAIL", "RCPT", "DATA")
ONE_BY_ONE = ("MAIL",)
SENDER_REFUSED = "550 5.7.1 sender refused"
TRY_LATER = "451 4.3.0 try again later"
MAILBOX_BUSY = "450 4.2.1 mailbox busy"
SPAM = "554 5.7.1 rejected as spam"

# content as a transport may be given it: dots at the start of lines (one line a lone dot,
# which would end the message if it were not doubled), bare LF and CR, no final line end,
# 8-bit UTF-8
CONTENTS = [
    b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend",
    b"Subject: bare line ends\n\nlone LF\nlone CR\rCRLF\r\n",
    "Subject: utf-8\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße, 東京\r\n".encode(),
]
FIRST_AS_RECEIVED = b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def smtp(request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    """A server that offers PIPELINING, then one that does not: every behaviour below
    must be the same either way."""
    with SmtpServer(pipelining=request.param) as server:
        yield server


def configured(settings: Settings, server: SmtpServer, **changes: Any) -> Settings:
    update = {
        "email_transport": server.url,
        "smtp_connections": 1,
        "retry_backoff": 0.01,
        "max_attempts": 3,
        "from_address": "News <news@acme.example>",
        **changes,
    }
    return settings.model_copy(update=update)


def expected_reads(server: SmtpServer) -> tuple[str, ...]:
    return PIPELINED if server.pipelining else ONE_BY_ONE


def message(number: int, recipient: str, data: bytes = b"Subject: hi\r\n\r\nHi\r\n") -> Message:
    return Message(f"{number}.1@acme.example", "news@acme.example", recipient, data)


async def campaign_rows(
    database: Database, settings: Settings, recipients: list[str]
) -> dict[str, Row]:
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database, settings, recipients, organization_id=organization_id
    )
    await worker(database, settings).run_burst()
    return await deliveries_of(database, campaign_id)


def outcomes(rows: dict[str, Row]) -> list[tuple[str, int, str | None]]:
    return sorted((row["status"], row["attempts"], row["last_error"]) for row in rows.values())


async def test_messages_arrive_byte_identical_with_and_without_pipelining() -> None:
    received: dict[bool, list[bytes]] = {}
    reads: dict[bool, list[tuple[str, ...]]] = {}
    for offered in (True, False):
        with SmtpServer(pipelining=offered) as server:
            transport = SmtpTransport(SmtpTarget.from_url(server.url), connections=1)
            replies = [
                await transport.send(message(number, f"user{number}@example.org", data))
                for number, data in enumerate(CONTENTS)
            ]
            await transport.close()
            assert all(reply.accepted for reply in replies), replies
            received[offered] = [item.data for item in server.messages]
            reads[offered] = server.envelope_reads
    assert received[True] == received[False]
    assert len(received[True]) == len(CONTENTS)
    assert received[True][0] == FIRST_AS_RECEIVED
    assert reads == {True: [PIPELINED] * len(CONTENTS), False: [ONE_BY_ONE] * len(CONTENTS)}


@pytest.mark.parametrize("setting", ["auto", "off"])
async def test_a_campaign_goes_out_pipelined_where_the_server_offers_it(
    database: Database, settings: Settings, setting: str
) -> None:
    recipients = [f"user{index}@example.org" for index in range(12)]
    with SmtpServer(pipelining=True) as server:
        smtp_settings = configured(settings, server, smtp_pipelining=setting, smtp_connections=3)
        rows = await campaign_rows(database, smtp_settings, recipients)
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert sorted(item.recipients[0] for item in server.messages) == sorted(recipients)
    expected = PIPELINED if setting == "auto" else ONE_BY_ONE
    assert server.envelope_reads == [expected] * len(recipients)
    assert server.connections <= 3


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (SENDER_REFUSED, [("failed", 1, SENDER_REFUSED), ("sent", 1, None)]),
        (TRY_LATER, [("sent", 1, None), ("sent", 2, None)]),
    ],
    ids=["hard", "soft"],
)
async def test_a_refused_sender_is_the_outcome_and_the_connection_goes_on(
    database: Database,
    settings: Settings,
    smtp: SmtpServer,
    reply: str,
    expected: list[tuple[str, int, str | None]],
) -> None:
    smtp.fail_next(1, reply, stage="mail")
    rows = await campaign_rows(
        database, configured(settings, smtp), ["ada@example.org", "bob@example.org"]
    )
    assert outcomes(rows) == expected
    assert len(smtp.messages) == len([item for item in expected if item[0] == "sent"])
    assert smtp.connections == 1
    assert set(smtp.envelope_reads) == {expected_reads(smtp)}


async def test_a_recipient_unknown_is_bounced_and_the_next_message_arrives(
    database: Database, settings: Settings, smtp: SmtpServer
) -> None:
    from campaignd.store.suppressions import is_suppressed

    smtp.fail_addresses(["ghost@example.org"], NO_SUCH_USER)
    recipients = ["ghost@example.org", "bob@example.org", "carol@example.org"]
    smtp_settings = configured(settings, smtp)
    organization_id = await organization(database)
    campaign_id = await sending_campaign(
        database, smtp_settings, recipients, organization_id=organization_id
    )
    await worker(database, smtp_settings).run_burst()
    rows = await deliveries_of(database, campaign_id)
    assert rows["ghost@example.org"]["status"] == "failed"
    assert rows["ghost@example.org"]["last_error"] == NO_SUCH_USER
    assert [rows[address]["status"] for address in recipients[1:]] == ["sent", "sent"]
    assert sorted(item.recipients[0] for item in smtp.messages) == recipients[1:]
    assert smtp.refused == [("ghost@example.org", NO_SUCH_USER)]
    assert smtp.connections == 1
    assert smtp.envelope_reads == [expected_reads(smtp)] * 3
    async with database.connection() as connection:
        assert await is_suppressed(
            connection, organization_id=organization_id, email="ghost@example.org"
        )


async def test_a_recipient_refused_for_now_is_retried_then_sent(
    database: Database, settings: Settings, smtp: SmtpServer
) -> None:
    smtp.fail_addresses(["ada@example.org"], MAILBOX_BUSY, times=1)
    rows = await campaign_rows(
        database, configured(settings, smtp), ["ada@example.org", "bob@example.org"]
    )
    assert (rows["ada@example.org"]["status"], rows["ada@example.org"]["attempts"]) == ("sent", 2)
    assert rows["bob@example.org"]["status"] == "sent"
    assert smtp.refused == [("ada@example.org", MAILBOX_BUSY)]
    assert sorted(item.recipients[0] for item in smtp.messages) == [
        "ada@example.org",
        "bob@example.org",
    ]
    assert smtp.connections == 1


async def test_content_refused_is_the_outcome(
    database: Database, settings: Settings, smtp: SmtpServer
) -> None:
    smtp.fail_addresses(["ada@example.org"], SPAM, stage="data")
    rows = await campaign_rows(
        database, configured(settings, smtp), ["ada@example.org", "bob@example.org"]
    )
    assert outcomes(rows) == [("failed", 1, SPAM), ("sent", 1, None)]
    assert [item.recipients for item in smtp.messages] == [["bob@example.org"]]
    assert smtp.connections == 1


async def test_a_connection_dropped_in_the_middle_of_the_group_is_retried(
    database: Database, settings: Settings
) -> None:
    with SmtpServer(pipelining=True) as server:
        server.fail_addresses(["ada@example.org"], DROP, times=1)  # closed instead of RCPT's reply
        rows = await campaign_rows(database, configured(settings, server), ["ada@example.org"])
    assert (rows["ada@example.org"]["status"], rows["ada@example.org"]["attempts"]) == ("sent", 2)
    assert server.dropped == 1
    assert [item.recipients for item in server.messages] == [["ada@example.org"]]


async def test_a_server_that_takes_data_for_a_refused_recipient_never_gets_the_content() -> None:
    with SmtpServer(pipelining=True, lenient_data=True) as server:
        server.fail_addresses(["ghost@example.org"], NO_SUCH_USER)
        transport = SmtpTransport(SmtpTarget.from_url(server.url), connections=1)
        refused = await transport.send(
            message(1, "ghost@example.org", b"Subject: private\r\n\r\nfor ghost only\r\n")
        )
        accepted = await transport.send(message(2, "bob@example.org"))
        await transport.close()
    assert (str(refused), refused.stage) == (NO_SUCH_USER, "rcpt")
    assert accepted.accepted
    assert server.unwanted == [b""]  # an empty message ended its DATA, as RFC 2920 says
    assert [item.recipients for item in server.messages] == [["bob@example.org"]]
    assert server.connections == 1


class Withdrawn(Exception):
    pass


async def test_a_message_withdrawn_after_the_354_is_never_delivered() -> None:
    checked: list[list[tuple[str, ...]]] = []
    with SmtpServer(pipelining=True) as server:
        transport = SmtpTransport(SmtpTarget.from_url(server.url), connections=1)

        async def withdraw() -> None:
            checked.append(server.envelope_reads)
            raise Withdrawn

        with pytest.raises(Withdrawn):
            await transport.send(message(1, "ada@example.org"), withdraw)
        reply: Reply = await transport.send(message(2, "bob@example.org"))
        await transport.close()
    assert checked == [[PIPELINED]]  # the check ran with the group answered, content unsent
    assert reply.accepted
    assert [item.recipients for item in server.messages] == [["bob@example.org"]]
    assert server.connections == 2  # the withdrawn message's connection was closed


async def test_a_message_withdrawn_before_data_is_reset_and_the_connection_goes_on() -> None:
    with SmtpServer(pipelining=False) as server:
        transport = SmtpTransport(SmtpTarget.from_url(server.url), connections=1)

        async def withdraw() -> None:
            raise Withdrawn

        with pytest.raises(Withdrawn):
            await transport.send(message(1, "ada@example.org"), withdraw)
        reply: Reply = await transport.send(message(2, "bob@example.org"))
        await transport.close()
    assert reply.accepted
    assert [item.recipients for item in server.messages] == [["bob@example.org"]]
    assert server.connections == 1  # RSET ended the withdrawn envelope, the connection went on


async def test_a_reply_that_does_not_come_in_time_is_a_lost_connection(
    smtp: SmtpServer,
) -> None:
    smtp.delay = 2.0
    transport = SmtpTransport(SmtpTarget.from_url(smtp.url + "?timeout=0.2"), connections=1)
    reply = await transport.send(message(1, "ada@example.org"))
    smtp.delay = 0.0
    second = await transport.send(message(2, "bob@example.org"))
    await transport.close()
    assert (reply.code, reply.stage) == (None, "data")
    assert "Timed out" in reply.text
    assert second.accepted
    assert smtp.connections == 2


def test_the_setting_is_auto_or_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(_env_file=None).smtp_pipelining == "auto"
    monkeypatch.setenv("CAMPAIGND_SMTP_PIPELINING", "off")
    assert load_settings(_env_file=None).smtp_pipelining == "off"
    monkeypatch.setenv("CAMPAIGND_SMTP_PIPELINING", "yes")
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None)
    assert str(error.value) == "CAMPAIGND_SMTP_PIPELINING: Input should be 'auto' or 'off'"
