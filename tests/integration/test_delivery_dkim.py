"""DKIM signatures checked by an independent verifier (dkimpy, with a DNS stub) on the exact
bytes a real SMTP server received."""

from __future__ import annotations

import re
from collections.abc import Iterator

import dkim
import pytest
from sqlalchemy import update

from campaignd.actions import campaigns as campaign_actions
from campaignd.actions import dkim as actions
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.delivery.dkim import SECRET_NAME
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import instance_secrets
from campaignd.store.secrets import instance_secret
from campaignd.wakeups import LocalWakeups
from tests.integration.delivery_support import (
    deliveries_of,
    organization,
    sending_campaign,
    worker,
)
from tests.integration.smtp_server import SmtpServer

SYSTEM = Principal(actor="test", role=Role.PLATFORM_ADMIN)
REQUIRED = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "list-unsubscribe-post",
}
RECIPIENTS = [
    ("ada@example.org", {"name": "Ada  Lovelace\t& Zoë"}),
    ("bob@example.org", {"name": "Bob"}),
]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "email_transport": smtp.url,
            "smtp_connections": 2,
            "public_url": "https://mail.example.org",
            "from_address": "News <news@acme.example>",
        }
    )


class Published:
    """The DKIM records as a DNS stub for dkimpy's verifier."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}

    def add(self, view: actions.KeyView) -> None:
        self.records[view.record_name] = view.record_value

    def __call__(self, name: bytes, timeout: int = 5) -> bytes | None:
        record = self.records.get(name.decode().rstrip("."))
        return record.encode() if record is not None else None


async def add_key(
    services: Services,
    published: Published,
    selector: str,
    algorithm: str,
    *,
    domain: str = "acme.example",
    organization: str = "acme",
) -> actions.KeyView:
    view = await actions.add_key(
        services,
        SYSTEM,
        domain=domain,
        selector=selector,
        algorithm=algorithm,
        organization=organization,
    )
    published.add(view)
    return view


def signatures(data: bytes) -> list[dict[str, str]]:
    """The tags of each DKIM-Signature header, top first."""
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    fields = re.split(r"\r\n(?![ \t])", head)
    found = []
    for field in fields:
        name, _, value = field.partition(":")
        if name.lower() == "dkim-signature":
            found.append(
                {
                    tag.split("=", 1)[0].strip(): "".join(tag.split("=", 1)[1].split())
                    for tag in value.split(";")
                    if "=" in tag
                }
            )
    return found


def verified(data: bytes, published: Published) -> list[bool]:
    """dkimpy's verdict on each signature of ``data`` (a mismatch it raises for, such as a
    wrong body hash, is a failed signature, as ``dkim.verify`` treats it)."""
    verdicts = []
    for index in range(len(signatures(data))):
        try:
            verdicts.append(bool(dkim.DKIM(data).verify(idx=index, dnsfunc=published)))
        except dkim.DKIMException:
            verdicts.append(False)
    return verdicts


@pytest.mark.parametrize(
    "algorithms", [("rsa",), ("ed25519",), ("rsa", "ed25519")], ids=["rsa", "ed25519", "dual"]
)
async def test_every_message_is_signed_and_verifies(
    database: Database,
    smtp_settings: Settings,
    smtp: SmtpServer,
    algorithms: tuple[str, ...],
) -> None:
    services = Services(database, smtp_settings, LocalWakeups())
    published = Published()
    organization_id = await organization(database)
    for index, algorithm in enumerate(algorithms):
        await add_key(services, published, f"cmp{index}", algorithm)
    campaign_id = await sending_campaign(
        database,
        smtp_settings,
        RECIPIENTS,
        organization_id=organization_id,
        subject="Grüße, {{ name }}: a subject long enough to be folded by the builder, surely",
        html_body="<p>Hi   {{ name }}</p>\n\n\n",
        text_body="Hi {{ name }}   \n.a line starting with a dot\n\ttabbed\n\n",
        reply_to="help@acme.example",
    )
    await worker(database, smtp_settings).run_burst()

    assert {row["status"] for row in (await deliveries_of(database, campaign_id)).values()} == {
        "sent"
    }
    assert len(smtp.messages) == 2
    for received in smtp.messages:
        tags = signatures(received.data)
        assert [tag["a"] for tag in tags] == [
            {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}[name] for name in algorithms
        ]
        assert {tag["d"] for tag in tags} == {"acme.example"}
        assert [tag["s"] for tag in tags] == [f"cmp{index}" for index in range(len(algorithms))]
        for tag in tags:
            assert tag["c"] == "relaxed/relaxed"
            assert set(tag["h"].lower().split(":")) >= REQUIRED | {"reply-to", "list-id"}
        assert verified(received.data, published) == [True] * len(algorithms)


async def test_a_change_after_signing_fails_verification(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    services = Services(database, smtp_settings, LocalWakeups())
    published = Published()
    organization_id = await organization(database)
    await add_key(services, published, "cmp1", "rsa")
    await sending_campaign(database, smtp_settings, RECIPIENTS[:1], organization_id=organization_id)
    await worker(database, smtp_settings).run_burst()
    [received] = smtp.messages
    data = received.data
    assert verified(data, published) == [True]

    body_changed = data.replace(b"Hi Ada", b"Hi Eve")
    assert body_changed != data
    assert verified(body_changed, published) == [False]

    link = re.search(rb"List-Unsubscribe: <([^>]+)>", data)
    assert link is not None
    unsubscribe_changed = data.replace(
        b"List-Unsubscribe: <" + link.group(1), b"List-Unsubscribe: <https://evil.example/u/x"
    )
    assert verified(unsubscribe_changed, published) == [False]

    second_from = data.replace(b"\r\n\r\n", b"\r\nFrom: Mallory <m@evil.example>\r\n\r\n", 1)
    assert verified(second_from, published) == [False]

    refolded = data.replace(b"X-Campaign-Id: ", b"X-Campaign-Id:\r\n   ", 1)
    assert refolded != data
    assert verified(refolded, published) == [True]  # relaxed: a relay may refold


async def test_keys_of_the_nearest_domain_sign_and_another_organization_s_never(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    services = Services(database, smtp_settings, LocalWakeups())
    published = Published()
    acme = await organization(database)
    await organization(database, "globex")
    await add_key(services, published, "globex1", "rsa", organization="globex")

    unsigned = await sending_campaign(
        database,
        smtp_settings,
        ["ann@example.org"],
        organization_id=acme,
        from_address="news@mail.acme.example",
    )
    preview = await campaign_actions.preview_campaign(services, SYSTEM, unsigned)
    assert preview.dkim is not None
    assert preview.dkim.note == "sent unsigned: no DKIM key for mail.acme.example"
    await worker(database, smtp_settings).run_burst()
    assert signatures(smtp.messages[-1].data) == []

    await add_key(services, published, "parent", "rsa")
    by_parent = await sending_campaign(
        database,
        smtp_settings,
        ["ben@example.org"],
        organization_id=acme,
        from_address="news@mail.acme.example",
        name="Parent",
    )
    preview = await campaign_actions.preview_campaign(services, SYSTEM, by_parent)
    assert preview.dkim is not None and preview.dkim.domain == "acme.example"
    await worker(database, smtp_settings).run_burst()
    [tags] = signatures(smtp.messages[-1].data)
    assert (tags["d"], tags["s"]) == ("acme.example", "parent")
    assert verified(smtp.messages[-1].data, published) == [True]

    await add_key(services, published, "own", "ed25519", domain="mail.acme.example")
    by_own = await sending_campaign(
        database,
        smtp_settings,
        ["cy@example.org"],
        organization_id=acme,
        from_address="news@mail.acme.example",
        name="Own",
    )
    await worker(database, smtp_settings).run_burst()
    [tags] = signatures(smtp.messages[-1].data)
    assert (tags["d"], tags["s"]) == ("mail.acme.example", "own")
    assert verified(smtp.messages[-1].data, published) == [True]
    preview = await campaign_actions.preview_campaign(services, SYSTEM, by_own)
    assert preview.dkim is not None
    assert preview.dkim.note == "signed with DKIM as mail.acme.example: own (ed25519)"


async def test_a_key_that_does_not_open_fails_the_messages_instead_of_sending_unsigned(
    database: Database, smtp_settings: Settings, smtp: SmtpServer
) -> None:
    services = Services(database, smtp_settings, LocalWakeups())
    organization_id = await organization(database)
    await add_key(services, Published(), "cmp1", "rsa")
    await instance_secret(database, SECRET_NAME)
    async with database.transaction() as connection:
        await connection.execute(
            update(instance_secrets)
            .where(instance_secrets.c.name == SECRET_NAME)
            .values(value="another-instance-secret")
        )
    campaign_id = await sending_campaign(
        database, smtp_settings, ["ann@example.org"], organization_id=organization_id
    )
    await worker(database, smtp_settings).run_burst()
    assert smtp.messages == []
    [row] = (await deliveries_of(database, campaign_id)).values()
    assert row["status"] == "failed"
    assert "dkim: the stored private key does not open" in row["last_error"]
