"""A second, independent verifier: OpenDKIM (Debian's ``opendkim`` in test mode, and
``opendkim-testkey``) checks the bytes a real SMTP server received and the record campaignd
prints, asking a stub DNS server on 127.0.0.1."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from campaignd.actions import dkim as actions
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.wakeups import LocalWakeups
from tests.integration.delivery_support import organization, sending_campaign, worker
from tests.integration.dns_server import DnsServer
from tests.integration.smtp_server import SmtpServer

SYSTEM = Principal(actor="test", role=Role.PLATFORM_ADMIN)


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        if os.environ.get("CAMPAIGND_REQUIRE_SERVICES"):
            pytest.fail(f"{name} must be installed in CI (apt-get install opendkim opendkim-tools)")
        pytest.skip(f"{name} is not installed (apt-get install opendkim opendkim-tools)")
    return path


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def opendkim_config(folder: Path, dns: DnsServer) -> Path:
    path = folder / "opendkim.conf"
    path.write_text(
        f"Mode v\nSyslog no\nAlwaysAddARHeader yes\nAuthservID test\n"
        f"Nameservers 127.0.0.1@{dns.port}\n",
        encoding="ascii",
    )
    return path


def opendkim_results(data: bytes, folder: Path, config: Path) -> list[str]:
    """``dkim=pass`` / ``dkim=fail`` with the selector, for each signature, as OpenDKIM
    writes them in the Authentication-Results header it would add."""
    message = folder / "message.eml"
    message.write_bytes(data)
    done = subprocess.run(
        [_tool("opendkim"), "-x", str(config), "-t", str(message), "-vvv"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [
        f"{result} s={selector}"
        for result, selector in re.findall(
            r"dkim=(\w+)(?:(?!dkim=).)*?header\.s=([\w-]+)", done.stdout, re.S
        )
    ]


async def test_opendkim_verifies_rsa_and_ed25519_on_the_received_bytes(
    database: Database, settings: Settings, smtp: SmtpServer, dns_server: DnsServer, tmp_path: Path
) -> None:
    config = opendkim_config(tmp_path, dns_server)
    sending = settings.model_copy(
        update={"email_transport": smtp.url, "from_address": "News <news@acme.example>"}
    )
    services = Services(database, sending, LocalWakeups())
    organization_id = await organization(database)
    for selector, algorithm in (("cmp1", "rsa"), ("cmp1e", "ed25519")):
        view = await actions.add_key(
            services,
            SYSTEM,
            domain="acme.example",
            selector=selector,
            algorithm=algorithm,
            organization="acme",
        )
        dns_server.publish(view.record_name, view.record_value)
    await sending_campaign(
        database,
        sending,
        [("ada@example.org", {"name": "Ada  Lovelace"})],
        organization_id=organization_id,
        text_body="Hi {{ name }}\n.a dot\n\ttab  \n",
    )
    await worker(database, sending).run_burst()
    [received] = smtp.messages

    assert opendkim_results(received.data, tmp_path, config) == [
        "pass s=cmp1",
        "pass s=cmp1e",
    ]
    changed = received.data.replace(b"Hi Ada", b"Hi Eve")
    assert opendkim_results(changed, tmp_path, config) == ["fail s=cmp1", "fail s=cmp1e"]


async def test_opendkim_testkey_accepts_the_record_campaignd_prints(
    database: Database, settings: Settings, dns_server: DnsServer, tmp_path: Path
) -> None:
    config = opendkim_config(tmp_path, dns_server)
    services = Services(database, settings, LocalWakeups())
    await organization(database)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    view = await actions.add_key(
        services,
        SYSTEM,
        domain="acme.example",
        selector="cmp1",
        private_pem=key_file.read_bytes(),
        organization="acme",
    )
    command = [
        _tool("opendkim-testkey"),
        "-d",
        "acme.example",
        "-s",
        "cmp1",
        "-k",
        str(key_file),
        "-x",
        str(config),
        "-vvv",
    ]
    dns_server.publish(view.record_name, view.record_value)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "key OK" in done.stdout + done.stderr, done.stderr

    other = await actions.add_key(
        services, SYSTEM, domain="acme.example", selector="other", organization="acme"
    )
    dns_server.publish(view.record_name, other.record_value)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "key OK" not in done.stdout + done.stderr
