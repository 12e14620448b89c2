"""``campaignd dkim`` against real databases and a stub DNS server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import Engine, select

from campaignd.store.schema import audit_log, dkim_keys
from tests.integration.dns_server import DnsServer
from tests.integration.test_cli_campaigns import engine, new_campaign, ok, refused

__all__ = ["engine"]

NAME = "cmp1._domainkey.news.acme.example"


@pytest.fixture
def dns_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[DnsServer]:
    with DnsServer() as server:
        monkeypatch.setenv("CAMPAIGND_DNS_NAMESERVERS", server.address)
        monkeypatch.setenv("CAMPAIGND_DNS_TIMEOUT", "2")
        yield server


def printed_record(stdout: str) -> tuple[str, str]:
    lines = dict(line.split(":", 1) for line in stdout.strip().splitlines())
    return lines["name"].strip(), lines["value"].strip()


def stored(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        rows = connection.execute(select(dkim_keys).order_by(dkim_keys.c.selector)).all()
    return [dict(row._mapping) for row in rows]


def test_add_generates_a_key_and_prints_the_record_to_publish(
    engine: Engine, dns_server: DnsServer
) -> None:
    ok("org", "create", "acme")
    result = ok(
        "dkim", "add", "--org", "acme", "--domain", "News.Acme.Example.", "--selector", "cmp1"
    )
    name, value = printed_record(result.stdout)
    assert name == NAME
    assert value.startswith("v=DKIM1; k=rsa; p=")
    public = serialization.load_der_public_key(base64.b64decode(value.split("p=")[1]))
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    assert "will not be shown again" in result.stderr

    [row] = stored(engine)
    assert (row["domain"], row["selector"], row["algorithm"]) == (
        "news.acme.example",
        "cmp1",
        "rsa",
    )
    assert "PRIVATE KEY" not in str(row["private_key"])
    assert "PRIVATE" not in result.stdout + result.stderr
    with engine.connect() as connection:
        audit = connection.execute(select(audit_log.c.action, audit_log.c.target)).all()
    assert ("dkim.add", NAME) in audit

    assert "cmp1 " in ok("dkim", "list", "--org", "acme").stdout
    assert "not published" in ok("dkim", "list", "--org", "acme").stdout
    dns_server.publish(NAME, value)
    listing = json.loads(ok("dkim", "list", "--org", "acme", "--json").stdout)
    [key] = listing["keys"]
    assert key["dns"] == {"status": "published", "records": [value], "error": None}
    assert key["recordName"] == NAME and key["recordValue"] == value
    assert "privateKey" not in key and "private" not in json.dumps(listing).lower()

    other = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    dns_server.publish(NAME, f"v=DKIM1; k=rsa; p={base64.b64encode(other).decode()}")
    assert " differs " in ok("dkim", "list", "--org", "acme").stdout
    dns_server.failing.add(NAME)
    assert "unknown (no name server answered" in ok("dkim", "list", "--org", "acme").stdout
    assert NAME in dns_server.queries
    unchecked = ok("dkim", "list", "--org", "acme", "--no-dns").stdout
    assert "not checked" in unchecked


def test_key_file_and_refusals_change_nothing(
    engine: Engine, dns_server: DnsServer, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    private = ed25519.Ed25519PrivateKey.generate()
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    arguments = ("--org", "acme", "--domain", "news.acme.example")
    assert "holds an ed25519 key, not rsa" in refused(
        "dkim", "add", *arguments, "--selector", "ed1", "--key-file", str(pem), "--algorithm", "rsa"
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    assert "not a PEM private key" in refused(
        "dkim", "add", *arguments, "--selector", "ed1", "--key-file", str(garbage)
    )
    assert "not a selector" in refused("dkim", "add", *arguments, "--selector", "bad_selector!")
    assert "is a top-level name" in refused(
        "dkim", "add", "--org", "acme", "--domain", "example", "--selector", "s1"
    )
    assert "'dsa' is not one of rsa, ed25519" in refused(
        "dkim", "add", *arguments, "--selector", "s1", "--algorithm", "dsa"
    )
    assert "no organization 'nope'" in refused(
        "dkim", "add", "--org", "nope", "--domain", "a.example", "--selector", "s1"
    )
    assert stored(engine) == []

    result = ok("dkim", "add", *arguments, "--selector", "ed1", "--key-file", str(pem))
    assert printed_record(result.stdout) == (
        "ed1._domainkey.news.acme.example",
        f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}",
    )
    assert "already has a key for ed1._domainkey.news.acme.example" in refused(
        "dkim", "add", *arguments, "--selector", "ed1"
    )
    assert len(stored(engine)) == 1

    removed = ok("dkim", "remove", *arguments, "--selector", "ed1")
    assert removed.stdout.strip() == (
        "removed the DKIM key ed1._domainkey.news.acme.example from acme"
    )
    assert stored(engine) == []
    assert "no DKIM key ed1._domainkey.news.acme.example in acme" in refused(
        "dkim", "remove", *arguments, "--selector", "ed1"
    )
    assert "has no DKIM keys" in ok("dkim", "list", "--org", "acme").stdout


def test_preview_says_whether_the_campaign_is_signed(
    engine: Engine, dns_server: DnsServer, tmp_path: Path
) -> None:
    ok("org", "create", "acme")
    campaign_id = new_campaign(
        tmp_path, fromAddress="News <news@news.acme.example>", recipients=["ann@example.org"]
    )
    preview = ok("campaign", "preview", str(campaign_id)).stdout
    assert "DKIM: sent unsigned: no DKIM key for news.acme.example" in preview
    ok("dkim", "add", "--org", "acme", "--domain", "acme.example", "--selector", "cmp1")
    preview = ok("campaign", "preview", str(campaign_id)).stdout
    assert "DKIM: signed with DKIM as acme.example: cmp1 (rsa)" in preview
    document = json.loads(ok("campaign", "preview", str(campaign_id), "--json").stdout)
    assert document["dkim"] == {
        "signed": True,
        "fromDomain": "news.acme.example",
        "domain": "acme.example",
        "selectors": ["cmp1"],
        "note": "signed with DKIM as acme.example: cmp1 (rsa)",
    }
