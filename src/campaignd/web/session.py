"""The admin session: stored server-side; the cookie carries only its random id.

``campaignd_session`` (HttpOnly, SameSite=Lax, ``Path=/admin``) holds the id of a row in
``admin_sessions`` (which stores only the id's hash). Signing out deletes the row, so a
copied cookie stops working everywhere; so does revoking the session's token or reaching
its expiry (``SESSION_MAX_AGE``). A signed-in session's CSRF token is derived from its id
(an HMAC under the session secret): it changes with every sign-in and dies with the session.

Someone not signed in carries ``campaignd_visitor`` instead: a signed cookie with the CSRF
token of the sign-in form and the flash messages waiting to be shown. It grants nothing.
Both are keyed with ``SESSION_SECRET`` or, when that is unset, a secret generated once and
stored in the database, so every instance agrees.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from campaignd.actions.services import Services
from campaignd.store.columns import utcnow
from campaignd.store.rows import Row
from campaignd.store.secrets import instance_secret
from campaignd.store.sessions import save_flashes, session_by_id

COOKIE_NAME = "campaignd_session"
VISITOR_COOKIE_NAME = "campaignd_visitor"
COOKIE_PATH = "/admin"
VISITOR_MAX_AGE_SECONDS = 24 * 3600
SALT = "campaignd.admin.visitor"
CSRF_CONTEXT = b"campaignd.admin.csrf:"
MAX_FLASHES = 4
MAX_FLASH_LENGTH = 400
TOKEN_REVOKED = "Your session ended because its token was revoked. Sign in again."


@dataclass(frozen=True)
class Flash:
    kind: str
    """``success``, ``error`` or ``info``."""
    text: str


def _new_csrf() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Session:
    csrf: str = field(default_factory=_new_csrf)
    flashes: list[Flash] = field(default_factory=list)
    session_id: str | None = None
    """The id of the live server-side session (None: not signed in)."""
    token: Row | None = None
    """The session's token (``name``, ``role``, ``organization_id``, ``organization_slug``)."""
    changed: bool = False
    """Flashes (or a visitor's CSRF token) changed and must be saved."""
    started: bool = False
    """A session began in this request: its cookie must be set."""
    ended: bool = False
    """The request's session cookie names no live session (any more): clear it."""

    @property
    def signed_in(self) -> bool:
        return self.session_id is not None and self.token is not None

    def flash(self, kind: str, text: str) -> None:
        if len(text) > MAX_FLASH_LENGTH:
            text = text[: MAX_FLASH_LENGTH - 1] + "…"
        self.flashes = [*self.flashes, Flash(kind, text)][-MAX_FLASHES:]
        self.changed = True

    def take_flashes(self) -> list[Flash]:
        taken, self.flashes = self.flashes, []
        if taken:
            self.changed = True
        return taken

    def stored_flashes(self) -> list[list[str]]:
        return [[flash.kind, flash.text] for flash in self.flashes]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _flashes_of(data: object) -> list[Flash]:
    if not isinstance(data, list):
        return []
    return [
        Flash(str(item[0]), str(item[1]))
        for item in data[-MAX_FLASHES:]
        if isinstance(item, list | tuple) and len(item) == 2
    ]


async def _secret(request: Request) -> str:
    state = request.app.state
    secret: str | None = getattr(state, "admin_session_secret", None)
    if secret is None:
        services = services_of(request)
        secret = services.settings.session_secret or await instance_secret(
            services.database, "session"
        )
        state.admin_session_secret = secret
    return secret


def _csrf_for(secret: str, session_id: str) -> str:
    digest = hmac.new(secret.encode(), CSRF_CONTEXT + session_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def _visitor(request: Request, secret: str) -> Session:
    """The state of someone not signed in, from their signed visitor cookie (or fresh)."""
    cookie = request.cookies.get(VISITOR_COOKIE_NAME)
    if cookie:
        try:
            data = _serializer(secret).loads(cookie, max_age=VISITOR_MAX_AGE_SECONDS)
        except (BadSignature, ValueError, TypeError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("c"), str) and data["c"]:
            return Session(csrf=data["c"], flashes=_flashes_of(data.get("f")))
    return Session(changed=True)


async def load_session(request: Request) -> Session:
    """The session of this request (read once, then kept on ``request.state``)."""
    cached: Session | None = getattr(request.state, "admin_session", None)
    if cached is not None:
        return cached
    secret = await _secret(request)
    session_id = request.cookies.get(COOKIE_NAME)
    row = None
    if session_id:
        async with services_of(request).database.connection() as connection:
            row = await session_by_id(connection, session_id, now=utcnow())
    if session_id and row is not None and row["revoked_at"] is None:
        session = Session(
            csrf=_csrf_for(secret, session_id),
            flashes=_flashes_of(row["flashes"]),
            session_id=session_id,
            token=row,
        )
    else:
        session = _visitor(request, secret)
        session.ended = bool(session_id)
        if row is not None:
            session.flash("info", TOKEN_REVOKED)
    request.state.admin_session = session
    return session


async def start_session(request: Request, session_id: str, token: Row) -> Session:
    """This request signed in: the session named ``session_id`` (already stored) is its own.

    Flash messages waiting in the visitor cookie move into the stored session.
    """
    session = await load_session(request)
    session.session_id = session_id
    session.token = token
    session.csrf = _csrf_for(await _secret(request), session_id)
    session.started = True
    session.ended = False
    session.changed = bool(session.flashes)
    return session


async def leave_session(request: Request) -> Session:
    """This request signed out (the stored session is already gone): a visitor again, with a
    new CSRF token."""
    session = await load_session(request)
    session.session_id = None
    session.token = None
    session.csrf = _new_csrf()
    session.started = False
    session.ended = True
    session.changed = True
    return session


def _cookie_options(request: Request) -> dict[str, Any]:
    return {
        "path": COOKIE_PATH,
        "httponly": True,
        "samesite": "lax",
        "secure": request.url.scheme == "https",
    }


async def save_session(request: Request, response: Response) -> None:
    """Save what changed: the stored session's flashes, or the cookies on ``response``."""
    session: Session | None = getattr(request.state, "admin_session", None)
    if session is None:
        return
    options = _cookie_options(request)
    if session.signed_in:
        assert session.session_id is not None
        if session.started:
            max_age = int(services_of(request).settings.session_max_age)
            response.set_cookie(COOKIE_NAME, session.session_id, max_age=max_age, **options)
            if request.cookies.get(VISITOR_COOKIE_NAME):
                response.delete_cookie(VISITOR_COOKIE_NAME, **options)
        if session.changed:
            async with services_of(request).database.transaction() as connection:
                await save_flashes(connection, session.session_id, session.stored_flashes())
        session.started = session.changed = False
        return
    if session.ended:
        response.delete_cookie(COOKIE_NAME, **options)
    if session.changed:
        value = _serializer(await _secret(request)).dumps(
            {"c": session.csrf, "f": session.stored_flashes()}
        )
        response.set_cookie(VISITOR_COOKIE_NAME, value, max_age=VISITOR_MAX_AGE_SECONDS, **options)
    session.ended = session.changed = False
