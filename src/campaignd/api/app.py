"""The FastAPI application: admin API, health and metrics, unsubscribe pages, admin UI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import campaignd
from campaignd import web
from campaignd.actions.services import Services
from campaignd.api import bounce_webhooks, public_images, subscribe, tracking, unsubscribe
from campaignd.api.contact_models import ContactsUpsert
from campaignd.api.errors import install_error_handlers
from campaignd.api.limits import BodySizeLimit, StreamedBodies
from campaignd.api.models import RecipientsRequest
from campaignd.api.nul_characters import NulCharacters
from campaignd.api.proxies import TrustedProxies, parse_networks
from campaignd.api.routes import PREFIX, admin_api_router, contacts, health

DESCRIPTION = """
Scheduled email campaigns: on time, once per person, with a frequency cooldown.

Every route under `/api/admin/marketing` needs `Authorization: Bearer <token>`: an API
token from `campaignd token create` (starts with `cmp_`) or a JWT with `sub`, `role` and
`org` claims. Errors are `{"detail": "..."}`. Times are ISO 8601 with an offset.
"""


EXTRA_SCHEMAS: tuple[type[BaseModel], ...] = (
    RecipientsRequest,
    ContactsUpsert,
)
"""Models a route documents by hand (``openapi_extra``) rather than as a parameter."""


def _install_openapi(app: FastAPI) -> None:
    """The generated schema, plus ``EXTRA_SCHEMAS`` under ``components/schemas``, so every
    ``$ref`` in it resolves."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _, extra = models_json_schema(
                [(model, "validation") for model in EXTRA_SCHEMAS],
                ref_template="#/components/schemas/{model}",
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in extra.get("$defs", {}).items():
                components.setdefault(name, definition)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(services: Services) -> FastAPI:
    """The application for ``services``; it starts no background work (the runtime does)."""
    app = FastAPI(
        title="campaignd",
        version=getattr(campaignd, "__version__", "0"),
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.database = services.database
    install_error_handlers(app)
    app.add_middleware(NulCharacters)  # inside the size limit: reads bodies it has measured
    app.add_middleware(
        BodySizeLimit,
        limit=services.settings.max_body_bytes,
        streamed=StreamedBodies(
            paths=frozenset({f"{PREFIX}/contacts"}),
            media_types=frozenset(contacts.STREAMED_TYPES),
            limit=services.settings.max_import_bytes,
        ),
    )
    # the busiest public requests, answered before the routing (inside TrustedProxies)
    app.add_middleware(tracking.TrackingEnds)
    proxies = parse_networks(services.settings.trusted_proxies)
    if proxies:
        app.add_middleware(TrustedProxies, networks=proxies)
    app.include_router(health.router)
    app.include_router(admin_api_router())
    app.include_router(unsubscribe.router)
    app.include_router(bounce_webhooks.router)
    app.include_router(subscribe.router)
    app.include_router(public_images.router)
    web.install(app)
    _install_openapi(app)
    return app
