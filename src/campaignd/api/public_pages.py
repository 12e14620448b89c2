"""What the public pages share (the unsubscribe link's preference centre, the subscribe
form, the confirmation link): one small style sheet, the frame of a page, and headers.

Every page carries a strict Content-Security-Policy (nothing loads but its own style
sheet, forms post only here, no framing) and sends no referrer. The pages are plain
HTML that reads well from 320 px wide up.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from campaignd.delivery.unsubscribe import SECRET_NAME
from campaignd.store.database import Database
from campaignd.store.secrets import instance_secret

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;background:#f5f6f8;color:#1f2933;margin:0;
line-height:1.45}
main{max-width:32rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:12px;
box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin-top:0}
h2{font-size:1.1rem;margin-top:1.6rem}
a{color:#1f2933}
button{font:inherit;background:#1f2933;color:#fff;border:0;border-radius:8px;
padding:.7rem 1.2rem;cursor:pointer}
button.secondary{background:#fff;color:#1f2933;border:1px solid #9aa5b1;padding:.45rem .9rem}
input[type=email]{font:inherit;width:100%;padding:.6rem;border:1px solid #9aa5b1;
border-radius:8px}
fieldset{border:1px solid #d9dee3;border-radius:8px;margin:0 0 1rem;padding:.6rem .9rem}
fieldset label{display:inline-block;padding:.25rem 0}
small{color:#52606d}
.notice{background:#fff4d6;border-radius:8px;padding:.7rem 1rem}
.done{background:#e3f5e8;border-radius:8px;padding:.7rem 1rem}
.error{background:#fde8e8;border-radius:8px;padding:.7rem 1rem}
.lists{list-style:none;padding:0;margin:0}
.lists li{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;
gap:.6rem;padding:.7rem 0;border-bottom:1px solid #e4e7eb}
.lists form{margin:0}
.honeypot{position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden}
@media (max-width:480px){main{margin:0;border-radius:0;min-height:100vh;padding:1.4rem}}
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{style}</style></head>
<body><main>{content}</main></body></html>"""

STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"style-src 'sha256-{STYLE_HASH}'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def page(
    title: str, content: str, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """A public page; ``content`` is HTML whose every user-supplied part is escaped."""
    html = PAGE.format(title=escape(title), style=STYLE, content=content)
    return HTMLResponse(html, status_code=status, headers=HEADERS | (headers or {}))


def see_other(location: str) -> Response:
    """The redirect that answers a form's POST (post, redirect, get)."""
    return Response(status_code=303, headers=HEADERS | {"Location": location})


def not_found(kind: str = "link") -> HTMLResponse:
    return page(
        f"{kind.capitalize()} not valid",
        f"<h1>This {escape(kind)} is not valid</h1><p>Please use the link from the email "
        "exactly as it was sent.</p>",
        status=404,
    )


async def link_secret(request: Request, database: Database) -> str:
    """The instance's secret of unsubscribe and confirmation links (read once, then kept)."""
    secret = getattr(request.app.state, "unsubscribe_secret", None)
    if secret is None:
        secret = await instance_secret(database, SECRET_NAME)
        request.app.state.unsubscribe_secret = secret
    return str(secret)


def ending(name: str) -> str:
    """A name, escaped, closing a sentence: "Acme Inc." takes no second full stop."""
    return escape(name) if name.rstrip().endswith((".", "!", "?")) else f"{escape(name)}."
