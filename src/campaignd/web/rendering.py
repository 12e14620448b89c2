"""Templates (autoescaped Jinja2), page responses with security headers, redirects with flashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from campaignd.domain.lifecycle import Action, CampaignStatus, is_allowed
from campaignd.web.auth import Viewer
from campaignd.web.csrf import FIELD_NAME
from campaignd.web.session import load_session, save_session
from campaignd.web.settings_pages import SETTINGS_ACTIVE, SETTINGS_PAGES
from campaignd.web.timezones import iso_utc, shown_zone, utc_text, zone_names, zoned_text

HERE = Path(__file__).parent
NONE = "\N{EN DASH}"
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # inline styles: progress bar widths, and the e-mail preview (an iframe srcdoc
        # inherits this policy); scripts never run there
        "style-src 'self' 'unsafe-inline'",
        # no remote images, so a tracking pixel in a previewed message never fires
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'none'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def _number(value: int | float | None) -> str:
    return NONE if value is None else f"{value:,}"


def _seconds(value: float | None) -> str:
    """Scheduler lateness: ``0.42 s``, ``12 s``, ``3 min 5 s``, ``2 h 10 min``."""
    if value is None:
        return NONE
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.0f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60)} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60)} min"


def _relative(moment: datetime | None) -> str:
    """``in 3 h 5 min``, ``in 40 s``, ``2 min ago``: independent of the viewer's zone."""
    if moment is None:
        return ""
    seconds = (moment - datetime.now(UTC)).total_seconds()
    span = abs(seconds)
    if span < 60:
        words = f"{int(span)} s"
    elif span < 3600:
        words = f"{int(span // 60)} min"
    elif span < 86400:
        words = f"{int(span // 3600)} h {int(span % 3600 // 60)} min"
    else:
        words = f"{int(span // 86400)} d {int(span % 86400 // 3600)} h"
    return f"in {words}" if seconds >= 0 else f"{words} ago"


def _allowed(action: str, status: str) -> bool:
    return is_allowed(Action(action), CampaignStatus(status))


def _percent(part: int, whole: int) -> float:
    return 0.0 if whole <= 0 else round(100.0 * part / whole, 2)


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["number"] = _number
    environment.filters["seconds"] = _seconds
    environment.filters["iso_utc"] = iso_utc
    environment.filters["utc_text"] = utc_text
    environment.filters["relative"] = _relative
    environment.filters["zoned_text"] = zoned_text
    environment.filters["shown_zone"] = shown_zone
    environment.globals["allowed"] = _allowed
    environment.globals["percent"] = _percent
    environment.globals["zone_names"] = zone_names
    environment.globals["settings_pages"] = SETTINGS_PAGES
    environment.globals["settings_active"] = SETTINGS_ACTIVE
    environment.globals["csrf_field"] = FIELD_NAME
    return environment


templates = Jinja2Templates(env=_environment())


def protect(response: Response) -> Response:
    """Headers every admin page carries: no framing, no caching of private pages, a CSP."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


async def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    viewer: Viewer | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    session = viewer.session if viewer is not None else await load_session(request)
    full: dict[str, Any] = {
        "viewer": viewer,
        "csrf_token": session.csrf,
        "flashes": [] if template.startswith("fragments/") else session.take_flashes(),
        "now": datetime.now(UTC),
        "active": "",
    }
    full.update(context or {})
    response = templates.TemplateResponse(
        request, template, full, status_code=status_code, headers=headers
    )
    await save_session(request, response)
    return protect(response)


async def redirect(request: Request, url: str) -> Response:
    """303 to ``url`` (after a POST), carrying the session's flashes along."""
    response = RedirectResponse(url, status_code=303)
    await save_session(request, response)
    return protect(response)


async def flash_and_redirect(request: Request, url: str, kind: str, text: str) -> Response:
    (await load_session(request)).flash(kind, text)
    return await redirect(request, url)
