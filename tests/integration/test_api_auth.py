"""Auth over HTTP: API tokens, JWTs (HS256 and RS256), roles and organization scope."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, campaign_body, open_api

SECRET = "a-shared-secret-of-at-least-32-bytes!"

PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    PRIVATE_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def claims(**overrides: Any) -> dict[str, Any]:
    values = {"sub": "ada", "role": "organization_admin", "org": "acme", "exp": time.time() + 600}
    return {key: value for key, value in (values | overrides).items() if value is not None}


def hs256(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def rs256(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), PRIVATE_KEY, algorithm="RS256")


def unsigned(**overrides: Any) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims(**overrides))}."


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings, jwt_secret=SECRET) as handle:
        yield handle


@pytest.fixture
async def rs_api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(
        database, settings, jwt_public_key=PUBLIC_PEM, jwt_audience="campaignd", jwt_issuer="idp"
    ) as handle:
        yield handle


def assert_unauthorized(response: Any, words: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert words in response.json()["detail"]


async def test_no_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    assert_unauthorized(await api.call(None, "GET", "/campaigns"), "Authorization: Bearer")


@pytest.mark.parametrize(
    "header",
    ["Basic YWRhOnNlY3JldA==", "Bearer", "Bearer cmp_not-a-real-token", "Bearer x.y.z", "Token a"],
)
async def test_malformed_or_unknown_credentials_are_401(api: Api, header: str) -> None:
    response = await api.call(None, "GET", "/campaigns", headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


async def test_revoked_token_is_401(api: Api) -> None:
    assert_unauthorized(await api.call("revoked", "GET", "/campaigns"), "unknown or revoked")


async def test_tokens_act_with_their_name_and_are_not_updated_per_request(api: Api) -> None:
    created = await api.create("acme_admin")
    assert created["createdBy"] == "token:acme_admin"
    audit = await api.audit()
    assert [(row["actor"], row["action"]) for row in audit] == [
        ("token:acme_admin", "campaign.create")
    ]
    from campaignd.store.schema import api_tokens

    assert all(row["last_used_at"] is None for row in await api.rows(api_tokens))


async def test_hs256_jwt_acts_as_its_subject_in_its_organization(api: Api) -> None:
    response = await api.call(hs256(), "POST", "/campaigns", json=campaign_body())
    assert response.status_code == 201, response.text
    assert response.json()["organization"] == "acme"
    assert (await api.audit())[-1]["actor"] == "jwt:ada"
    other = await api.call(hs256(org="globex"), "GET", f"/campaigns/{response.json()['id']}")
    assert other.status_code == 404


async def test_jwt_viewer_reads_but_cannot_change(api: Api) -> None:
    viewer = hs256(role="viewer")
    assert (await api.call(viewer, "GET", "/campaigns")).status_code == 200
    response = await api.call(viewer, "POST", "/campaigns", json=campaign_body())
    assert response.status_code == 403
    assert await api.audit() == []


async def test_platform_admin_jwt_needs_no_organization(api: Api) -> None:
    token = hs256(role="platform_admin", org=None)
    response = await api.call(
        token, "POST", "/campaigns", json=campaign_body(organization="globex")
    )
    assert response.status_code == 201, response.text
    assert response.json()["organization"] == "globex"


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (lambda: hs256(exp=time.time() - 5), "expired"),
        (lambda: hs256(exp=None), "exp"),
        (lambda: hs256(exp=str(int(time.time()) + 600)), "'exp' claim must be a number"),
        (lambda: hs256(sub=None), "sub"),
        (lambda: hs256(role="owner"), "role"),
        (lambda: hs256(org=None), "org"),
        (lambda: hs256(org="initech"), "initech"),
        (lambda: jwt.encode(claims(), "another-secret-of-at-least-32-bytes", "HS256"), "refused"),
        (lambda: unsigned(), "none"),
        (lambda: unsigned(role="platform_admin"), "none"),
        (lambda: rs256(), "RS256"),
    ],
    ids=[
        "expired",
        "no-exp",
        "exp-as-string",
        "no-sub",
        "unknown-role",
        "no-org",
        "unknown-org",
        "wrong-secret",
        "alg-none",
        "alg-none-admin",
        "rs256-not-configured",
    ],
)
async def test_bad_hs256_jwts_are_401(api: Api, token: Any, words: str) -> None:
    response = await api.call(token(), "GET", "/campaigns")
    assert_unauthorized(response, words)


async def test_rs256_jwt_with_audience_and_issuer(rs_api: Api) -> None:
    token = rs256(aud="campaignd", iss="idp")
    response = await rs_api.call(token, "POST", "/campaigns", json=campaign_body())
    assert response.status_code == 201, response.text
    assert (await rs_api.audit())[-1]["actor"] == "jwt:ada"


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (lambda: rs256(aud="someone-else", iss="idp"), "audience"),
        (lambda: rs256(iss="idp"), "aud"),
        (lambda: rs256(aud="campaignd", iss="elsewhere"), "issuer"),
        (lambda: rs256(aud="campaignd", iss="idp", exp=time.time() - 5), "expired"),
        (lambda: jwt.encode(claims(aud="campaignd", iss="idp"), SECRET, "HS256"), "HS256"),
        (lambda: unsigned(aud="campaignd", iss="idp"), "none"),
    ],
    ids=["audience", "no-audience", "issuer", "expired", "hs256", "alg-none"],
)
async def test_bad_rs256_jwts_are_401(rs_api: Api, token: Any, words: str) -> None:
    response = await rs_api.call(token(), "GET", "/campaigns")
    assert_unauthorized(response, words)


async def test_hs256_signed_with_the_public_key_is_refused(rs_api: Api) -> None:
    """The classic confusion attack: an HMAC token keyed with the (public) RSA key."""
    header = {"alg": "HS256", "typ": "JWT"}
    payload = claims(aud="campaignd", iss="idp", role="platform_admin")

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    import hashlib
    import hmac

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(payload).encode())}"
    signature = hmac.new(PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{part(signature)}"
    assert_unauthorized(await rs_api.call(token, "GET", "/campaigns"), "HS256")


async def test_jwts_are_refused_when_no_key_is_configured(
    database: Database, settings: Settings
) -> None:
    async with open_api(database, settings) as api:
        assert_unauthorized(await api.call(hs256(), "GET", "/campaigns"), "not enabled")
