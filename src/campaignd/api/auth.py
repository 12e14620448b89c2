"""Who is calling: a ``cmp_`` API token (looked up hashed) or a JWT from an identity provider.

Missing or bad credentials answer 401 with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from campaignd.actions.principal import Principal, Role, principal_for_token
from campaignd.actions.services import Services
from campaignd.api.errors import ProblemError
from campaignd.settings import Settings
from campaignd.store.organizations import organization_by_slug
from campaignd.store.tokens import TOKEN_PREFIX, token_by_plain

bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`cmp_...`, from `campaignd token create`) or a JWT.",
)


class Unauthorized(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": "Bearer"})


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _pem(value: str) -> str:
    """The key itself, from the variable's text (``\\n`` allowed) or from a file it names."""
    text = value.replace("\\n", "\n").strip()
    if not text.startswith("-----BEGIN"):
        path = Path(text).expanduser()
        if path.is_file():
            return path.read_text()
    return text


def accepted_keys(settings: Settings) -> dict[str, str]:
    """Algorithm -> key: HS256 with the shared secret, RS256 with the public key."""
    keys: dict[str, str] = {}
    if settings.jwt_secret:
        keys["HS256"] = settings.jwt_secret
    if settings.jwt_public_key:
        keys["RS256"] = _pem(settings.jwt_public_key)
    return keys


def decode_jwt(token: str, settings: Settings) -> dict[str, Any]:
    """The verified claims; raises Unauthorized saying what is wrong."""
    keys = accepted_keys(settings)
    if not keys:
        raise Unauthorized("not a campaignd API token, and JWTs are not enabled on this server")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise Unauthorized("the bearer token is neither an API token nor a JWT") from None
    if algorithm not in keys:
        accepted = ", ".join(sorted(keys))
        raise Unauthorized(f"JWTs signed with {algorithm} are not accepted (only {accepted})")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            keys[algorithm],
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require": ["exp", "sub"],
                "verify_aud": settings.jwt_audience is not None,
            },
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the JWT has expired") from None
    except jwt.MissingRequiredClaimError as error:
        raise Unauthorized(f"the JWT lacks the required '{error.claim}' claim") from None
    except jwt.InvalidAudienceError:
        raise Unauthorized(f"the JWT's audience is not '{settings.jwt_audience}'") from None
    except jwt.InvalidIssuerError:
        raise Unauthorized(f"the JWT's issuer is not '{settings.jwt_issuer}'") from None
    except jwt.PyJWTError as error:
        raise Unauthorized(f"the JWT was refused: {error}") from None
    _require_numeric_dates(claims)
    return claims


NUMERIC_DATE_CLAIMS = ("exp", "nbf", "iat")


def _require_numeric_dates(claims: dict[str, Any]) -> None:
    """``exp``, ``nbf`` and ``iat`` are NumericDates (RFC 7519): a JSON number, never a string
    such as ``"9999999999"`` (PyJWT would read it as a number)."""
    for name in NUMERIC_DATE_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Unauthorized(f"the JWT's '{name}' claim must be a number (seconds since 1970)")


async def principal_for_claims(services: Services, claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        allowed = ", ".join(item.value for item in Role)
        raise Unauthorized(f"the JWT's 'role' claim must be one of {allowed}") from None
    actor = f"jwt:{claims['sub']}"
    if role is Role.PLATFORM_ADMIN:
        return Principal(actor=actor, role=role)
    slug = claims.get("org")
    if not isinstance(slug, str) or not slug:
        raise Unauthorized("the JWT needs an 'org' claim (an organization slug) for this role")
    async with services.database.connection() as connection:
        organization = await organization_by_slug(connection, slug)
    if organization is None:
        raise Unauthorized(f"the JWT names organization '{slug}', which does not exist")
    return Principal(
        actor=actor, role=role, organization_id=int(organization["id"]), organization_slug=slug
    )


async def principal_for_credentials(
    services: Services, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None:
        raise Unauthorized("send an API token or a JWT as 'Authorization: Bearer <token>'")
    token = credentials.credentials.strip()
    if token.startswith(TOKEN_PREFIX):
        async with services.database.connection() as connection:
            row = await token_by_plain(connection, token)
        if row is None:
            raise Unauthorized("the API token is unknown or revoked")
        return principal_for_token(row)
    claims = decode_jwt(token, services.settings)
    return await principal_for_claims(services, claims)


async def current_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller; worked out once per request (``authenticate`` may have done it already)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    principal = await principal_for_credentials(services, credentials)
    request.state.principal = principal
    return principal


async def authenticate(request: Request) -> Principal:
    """``current_principal`` before FastAPI reads the body (see ``api.routing.ApiRoute``)."""
    return await current_principal(request, get_services(request), await bearer(request))


PrincipalDep = Annotated[Principal, Depends(current_principal)]
