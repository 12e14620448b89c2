"""JWT verification and the API's error sentences, without a database."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from campaignd.actions.principal import Role
from campaignd.api.auth import Unauthorized, accepted_keys, decode_jwt, principal_for_token
from campaignd.api.errors import describe_errors, field_name
from campaignd.settings import Settings, SettingsError, load_settings

SECRET = "unit-test-secret-with-enough-bytes-000"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def claims(**overrides: Any) -> dict[str, Any]:
    return {"sub": "ada", "role": "viewer", "org": "acme", "exp": time.time() + 60} | overrides


def test_only_the_algorithm_of_the_configured_key_is_accepted() -> None:
    assert set(accepted_keys(settings(jwt_secret=SECRET))) == {"HS256"}
    assert set(accepted_keys(settings(jwt_public_key=PUBLIC))) == {"RS256"}
    assert accepted_keys(settings()) == {}


def test_public_key_from_a_file_or_with_escaped_newlines(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text(PUBLIC)
    token = jwt.encode(claims(), KEY, algorithm="RS256")
    assert decode_jwt(token, settings(jwt_public_key=str(path)))["sub"] == "ada"
    escaped = PUBLIC.replace("\n", "\\n")
    assert decode_jwt(token, settings(jwt_public_key=escaped))["sub"] == "ada"


def test_hs256_round_trip_and_expiry() -> None:
    config = settings(jwt_secret=SECRET)
    assert decode_jwt(jwt.encode(claims(), SECRET, "HS256"), config)["role"] == "viewer"
    expired = jwt.encode(claims(exp=time.time() - 1), SECRET, "HS256")
    with pytest.raises(Unauthorized, match="expired"):
        decode_jwt(expired, config)


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["9999999999", "0", True, None, [1], {"at": 1}])
def test_time_claims_must_be_numbers(name: str, value: Any) -> None:
    """PyJWT reads ``"exp": "9999999999"`` as a number; a NumericDate must be a JSON number."""
    token = jwt.encode(claims(**{name: value}), SECRET, "HS256")
    with pytest.raises(Unauthorized):
        decode_jwt(token, settings(jwt_secret=SECRET))


def test_an_expiry_given_as_a_string_is_refused_in_words() -> None:
    token = jwt.encode(claims(exp=str(int(time.time()) + 3600)), SECRET, "HS256")
    with pytest.raises(Unauthorized, match="'exp' claim must be a number"):
        decode_jwt(token, settings(jwt_secret=SECRET))


def test_numeric_time_claims_are_accepted() -> None:
    now = time.time()
    token = jwt.encode(claims(iat=int(now), nbf=now - 5, exp=int(now) + 60), SECRET, "HS256")
    assert decode_jwt(token, settings(jwt_secret=SECRET))["sub"] == "ada"


@pytest.mark.parametrize("secret", ["short", "x" * 31, "é" * 15])
def test_a_jwt_secret_shorter_than_32_bytes_stops_the_start(secret: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, jwt_secret=secret)
    assert str(error.value).startswith("CAMPAIGND_JWT_SECRET: must be at least 32 bytes")


def test_a_jwt_secret_of_32_bytes_or_none_is_fine() -> None:
    assert load_settings(_env_file=None, jwt_secret="é" * 16).jwt_secret == "é" * 16
    assert load_settings(_env_file=None, jwt_secret="").jwt_secret is None
    assert load_settings(_env_file=None).jwt_secret is None


def test_unaccepted_algorithms_are_named() -> None:
    token = jwt.encode(claims(), SECRET * 2, "HS512")
    with pytest.raises(Unauthorized, match="HS512"):
        decode_jwt(token, settings(jwt_secret=SECRET))


def test_audience_and_issuer_are_checked_only_when_configured() -> None:
    token = jwt.encode(claims(aud="other", iss="somebody"), SECRET, "HS256")
    assert decode_jwt(token, settings(jwt_secret=SECRET))["aud"] == "other"
    with pytest.raises(Unauthorized, match="audience"):
        decode_jwt(token, settings(jwt_secret=SECRET, jwt_audience="campaignd"))
    with pytest.raises(Unauthorized, match="issuer"):
        decode_jwt(token, settings(jwt_secret=SECRET, jwt_issuer="idp"))


def test_unauthorized_carries_the_bearer_challenge() -> None:
    problem = Unauthorized("no")
    assert problem.status_code == 401
    assert problem.headers == {"WWW-Authenticate": "Bearer"}


def test_token_rows_become_principals() -> None:
    row = {"name": "ci", "role": "viewer", "organization_id": 3, "organization_slug": "acme"}
    principal = principal_for_token(row)
    assert (principal.actor, principal.role, principal.scope) == ("token:ci", Role.VIEWER, 3)


def test_validation_errors_become_one_sentence_naming_fields() -> None:
    errors = [
        {"type": "timezone_aware", "loc": ("body", "scheduledFor"), "msg": "x"},
        {"type": "extra_forbidden", "loc": ("body", "colour"), "msg": "x"},
        {"type": "string_type", "loc": ("body", "recipients", 2, "str"), "msg": "x"},
    ]
    sentence = describe_errors(errors)
    assert sentence.startswith("scheduledFor: needs a time zone offset")
    assert "colour: unknown field" in sentence
    assert "recipients[2]: must be a string" in sentence
    assert field_name(("query", "limit")) == "limit"
    assert field_name(()) == "body"
