"""``/api/admin/marketing/dkim-keys``: add, list with the DNS record and its status, remove;
roles, organization scope, refusals that change nothing, and a campaign's preview."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.store.schema import audit_log, dkim_keys
from tests.integration.api_client import Api, open_api
from tests.integration.dns_server import DnsServer

NAME = "cmp1._domainkey.news.acme.example"


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture
async def api(database: Database, settings: Settings, dns_server: DnsServer) -> AsyncIterator[Api]:
    async with open_api(
        database,
        settings,
        dns_nameservers=dns_server.address,
        dns_timeout=2.0,
        from_address="News <news@news.acme.example>",
    ) as handle:
        yield handle


def pem_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


async def test_add_list_remove_and_the_private_key_is_never_returned(
    api: Api, dns_server: DnsServer
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    added = await api.call(
        "acme_admin",
        "POST",
        "/dkim-keys",
        json={"domain": "news.acme.example", "selector": "cmp1", "privateKey": pem_of(private)},
    )
    assert added.status_code == 201, added.text
    key = added.json()
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key["recordName"] == NAME
    assert key["recordValue"] == f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    assert (key["organization"], key["algorithm"], key["dns"]) == ("acme", "rsa", None)
    assert "PRIVATE" not in added.text

    generated = await api.call(
        "acme_admin",
        "POST",
        "/dkim-keys",
        json={"domain": "news.acme.example", "selector": "cmp1e", "algorithm": "ed25519"},
    )
    assert generated.status_code == 201, generated.text
    assert generated.json()["recordValue"].startswith("v=DKIM1; k=ed25519; p=")
    [stored, _] = await api.rows(dkim_keys)
    assert "PRIVATE" not in stored["private_key"]

    dns_server.publish(NAME, key["recordValue"])
    listing = await api.call("acme_admin", "GET", "/dkim-keys")
    assert listing.status_code == 200
    keys = {item["selector"]: item for item in listing.json()["keys"]}
    assert keys["cmp1"]["dns"] == {
        "status": "published",
        "records": [key["recordValue"]],
        "error": None,
    }
    assert keys["cmp1e"]["dns"]["status"] == "not published"
    assert "PRIVATE" not in listing.text and "privateKey" not in listing.text
    unchecked = await api.call("acme_admin", "GET", "/dkim-keys?dns=false")
    assert [item["dns"] for item in unchecked.json()["keys"]] == [None, None]

    preview = await api.call("acme_admin", "POST", f"/campaigns/{await draft(api)}/preview")
    assert preview.json()["dkim"] == {
        "signed": True,
        "fromDomain": "news.acme.example",
        "domain": "news.acme.example",
        "selectors": ["cmp1", "cmp1e"],
        "note": "signed with DKIM as news.acme.example: cmp1 (rsa), cmp1e (ed25519)",
    }

    removed = await api.call("acme_admin", "DELETE", "/dkim-keys/news.acme.example/cmp1")
    assert removed.status_code == 200 and removed.json()["recordName"] == NAME
    again = await api.call("acme_admin", "DELETE", "/dkim-keys/news.acme.example/cmp1")
    assert again.status_code == 404
    assert again.json()["detail"] == f"no DKIM key {NAME} in acme"
    actions = [row["action"] for row in await api.audit() if row["action"].startswith("dkim.")]
    assert actions == ["dkim.add", "dkim.add", "dkim.remove"]


async def draft(api: Api) -> int:
    return int((await api.create("acme_admin", recipients=["ann@example.org"]))["id"])


async def test_unsigned_campaign_says_so_in_its_preview(api: Api) -> None:
    preview = await api.call("acme_admin", "POST", f"/campaigns/{await draft(api)}/preview")
    assert preview.status_code == 200
    assert preview.json()["dkim"]["signed"] is False
    assert preview.json()["dkim"]["note"] == "sent unsigned: no DKIM key for news.acme.example"


async def test_roles_scope_and_refusals_change_nothing(api: Api) -> None:
    body = {"domain": "news.acme.example", "selector": "cmp1", "algorithm": "ed25519"}
    assert (await api.call("acme_admin", "POST", "/dkim-keys", json=body)).status_code == 201
    before = (await api.rows(dkim_keys), len(await api.rows(audit_log)))

    viewer = await api.call("acme_viewer", "POST", "/dkim-keys", json=body | {"selector": "x"})
    assert viewer.status_code == 403
    assert (await api.call("acme_viewer", "GET", "/dkim-keys?dns=false")).status_code == 200
    assert (await api.call(None, "GET", "/dkim-keys")).status_code == 401
    duplicate = await api.call("acme_admin", "POST", "/dkim-keys", json=body)
    assert duplicate.status_code == 409
    assert "already has a key for cmp1._domainkey.news.acme.example" in duplicate.json()["detail"]
    refusals = {
        "domain: 'not a domain' is not a domain name": body | {"domain": "not a domain"},
        "selector: 'a_b' is not a selector": body | {"selector": "a_b"},
        "key file: not a PEM private key": body | {"selector": "k", "privateKey": "nope"},
        "key file: DKIM keys are RSA or Ed25519": {
            "domain": "news.acme.example",
            "selector": "ec",
            "privateKey": pem_of(ec.generate_private_key(ec.SECP256R1())),
        },
        "organization: you belong to 'acme', not 'globex'": body | {"organization": "globex"},
    }
    for detail, refused in refusals.items():
        answer = await api.call("acme_admin", "POST", "/dkim-keys", json=refused)
        assert answer.status_code == 422, answer.text
        assert detail in answer.json()["detail"]
    unknown = await api.call("acme_admin", "POST", "/dkim-keys", json=body | {"extra": 1})
    assert unknown.status_code == 422
    bad_algorithm = await api.call(
        "acme_admin", "POST", "/dkim-keys", json=body | {"algorithm": "dsa"}
    )
    assert bad_algorithm.status_code == 422

    other = await api.call("globex_admin", "GET", "/dkim-keys")
    assert other.json() == {"organization": "globex", "keys": []}
    taken = await api.call("globex_admin", "DELETE", "/dkim-keys/news.acme.example/cmp1")
    assert taken.status_code == 404
    assert taken.json()["detail"] == "no DKIM key cmp1._domainkey.news.acme.example in globex"
    platform = await api.call("platform", "GET", "/dkim-keys")
    assert platform.status_code == 422
    assert (await api.rows(dkim_keys), len(await api.rows(audit_log))) == before

    seen = await api.call("platform", "GET", "/dkim-keys?organization=acme&dns=false")
    assert [item["selector"] for item in seen.json()["keys"]] == ["cmp1"]
