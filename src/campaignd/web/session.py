"""The admin session: a signed, HttpOnly, SameSite=Lax cookie naming a token by id.

The cookie holds the token's id (never the token), the CSRF token of the session and the
flash messages waiting to be shown. It is signed with ``SESSION_SECRET`` or, when that is
unset, a secret generated once and stored in the database, so every instance agrees.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from campaignd.actions.services import Services
from campaignd.store.secrets import instance_secret

COOKIE_NAME = "campaignd_session"
COOKIE_PATH = "/admin"
MAX_AGE_SECONDS = 7 * 24 * 3600
SALT = "campaignd.admin.session"
MAX_FLASHES = 4
MAX_FLASH_LENGTH = 400


@dataclass(frozen=True)
class Flash:
    kind: str
    """``success``, ``error`` or ``info``."""
    text: str


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token_id: int | None = None
    flashes: list[Flash] = field(default_factory=list)
    changed: bool = False

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

    def sign_in(self, token_id: int) -> None:
        """A fresh CSRF token on every sign-in (no fixation)."""
        self.token_id = token_id
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def sign_out(self) -> None:
        self.token_id = None
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def to_cookie(self) -> dict[str, Any]:
        return {
            "c": self.csrf,
            "t": self.token_id,
            "f": [[flash.kind, flash.text] for flash in self.flashes],
        }

    @classmethod
    def from_cookie(cls, data: object) -> Session:
        if not isinstance(data, dict):
            return cls(changed=True)
        csrf, token_id, flashes = data.get("c"), data.get("t"), data.get("f") or []
        if not isinstance(csrf, str) or not (token_id is None or isinstance(token_id, int)):
            return cls(changed=True)
        return cls(
            csrf=csrf,
            token_id=token_id,
            flashes=[Flash(str(kind), str(text)) for kind, text in flashes],
        )


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _serializer(request: Request) -> URLSafeTimedSerializer:
    state = request.app.state
    serializer: URLSafeTimedSerializer | None = getattr(state, "admin_session_serializer", None)
    if serializer is None:
        services = services_of(request)
        secret = services.settings.session_secret or await instance_secret(
            services.database, "session"
        )
        serializer = URLSafeTimedSerializer(secret, salt=SALT)
        state.admin_session_serializer = serializer
    return serializer


async def load_session(request: Request) -> Session:
    """The session of this request (read once, then kept on ``request.state``)."""
    cached: Session | None = getattr(request.state, "admin_session", None)
    if cached is not None:
        return cached
    session = Session(changed=True)
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        serializer = await _serializer(request)
        try:
            session = Session.from_cookie(serializer.loads(cookie, max_age=MAX_AGE_SECONDS))
        except (BadSignature, ValueError, TypeError):
            session = Session(changed=True)
    request.state.admin_session = session
    return session


async def save_session(request: Request, response: Response) -> None:
    """Write the session cookie onto ``response`` when the session changed."""
    session: Session | None = getattr(request.state, "admin_session", None)
    if session is None or not session.changed:
        return
    serializer = await _serializer(request)
    response.set_cookie(
        COOKIE_NAME,
        serializer.dumps(session.to_cookie()),
        max_age=MAX_AGE_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
