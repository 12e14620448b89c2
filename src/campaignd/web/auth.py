"""Who is looking at the page: the stored session and its token, checked on every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from campaignd.actions.principal import Principal, Role, principal_for_token
from campaignd.web.session import Session, load_session

LOGIN_PATH = "/admin/login"


class SignInRequired(Exception):
    """No live session (signed out, expired, or its token revoked): the page asks to sign in."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    token_name: str
    session: Session

    @property
    def can_change(self) -> bool:
        return self.principal.can_change

    @property
    def is_platform_admin(self) -> bool:
        return self.principal.role is Role.PLATFORM_ADMIN


def login_url(next_url: str | None = None) -> str:
    if not next_url or next_url == "/admin":
        return LOGIN_PATH
    return f"{LOGIN_PATH}?next={quote(next_url, safe='/')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: only a path inside the admin UI (no open redirect)."""
    if value and value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin/marketing/campaigns"


async def current_viewer(request: Request) -> Viewer:
    session = await load_session(request)
    if session.signed_in:
        assert session.token is not None
        return Viewer(principal_for_token(session.token), str(session.token["name"]), session)
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    raise SignInRequired(path if request.method == "GET" else "")


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
