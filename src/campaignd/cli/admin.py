"""The CLI acts on the database directly, as a platform admin named after the login user.

Actions run with ``Services`` built as an instance builds them (so a running scheduler is
woken through Redis when ``REDIS_URL`` is set); their errors become one-line messages.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

from campaignd.actions.errors import ActionError, NotFound, UnknownName
from campaignd.actions.principal import Principal, Role
from campaignd.actions.services import Services
from campaignd.cli.common import ensure_schema, fail, not_found, settings_or_exit
from campaignd.settings import Settings

T = TypeVar("T")


def login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cli_principal() -> Principal:
    return Principal(actor=f"cli:{login_name()}", role=Role.PLATFORM_ADMIN)


def build_services(settings: Settings) -> Services:
    from campaignd.runtime import build_services as build_instance_services

    return build_instance_services(settings)


async def close_services(services: Services) -> None:
    await services.wakeups.close()
    await services.database.dispose()


def prepared_settings(*, create: bool = False) -> Settings:
    """Settings with a database that has its schema (or a one-line error and exit);
    a missing SQLite file is created only with ``create``."""
    settings = settings_or_exit()
    ensure_schema(settings, create=create)
    return settings


def run_action(settings: Settings, work: Callable[[Services, Principal], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh event loop; an ``ActionError`` becomes ``error: ...``, exit 1."""

    async def main() -> T:
        services = build_services(settings)
        try:
            return await work(services, cli_principal())
        finally:
            await close_services(services)

    try:
        return asyncio.run(main())
    except (NotFound, UnknownName) as error:
        raise not_found(settings, error.detail) from None
    except ActionError as error:
        raise fail(error.detail) from None
