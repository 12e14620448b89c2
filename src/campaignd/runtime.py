"""One instance of campaignd: the API, the scheduler and the delivery workers on one event loop.

``--role`` decides which of them start. SIGTERM (or Ctrl-C) drains: the API stops
accepting, the scheduler stops claiming, workers finish what is in flight and give
back their leases, then the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from campaignd.actions.bounce_mailbox import poll_forever
from campaignd.actions.services import Services
from campaignd.api import tracking
from campaignd.api.app import create_app
from campaignd.delivery.rate import create_rate_limiter
from campaignd.delivery.transports import create_transport
from campaignd.delivery.webhooks import Dispatcher
from campaignd.delivery.worker import Worker
from campaignd.logs import log_event
from campaignd.scheduling.lock import create_lock
from campaignd.scheduling.scheduler import Scheduler
from campaignd.settings import Role, Settings
from campaignd.store.database import open_database
from campaignd.wakeups import create_wakeups

logger = logging.getLogger("campaignd.runtime")

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop where it is installed (a faster event loop for the many small
    socket reads and writes of SMTP), else on the standard asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the instance decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def metrics_app() -> Starlette:
    """``/metrics`` and ``/healthz`` alone, for ``--metrics-port``: how a scheduler or worker
    process, which serves no API, is scraped."""

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])


def freeze_start_up_objects() -> None:
    """Keep what start-up made (modules, the application, its routes and models: most of
    the process's objects, all of them long-lived) out of the garbage collector's sight.

    A full collection walks every object it tracks: measured at 350-380 ms for a ``serve``
    process, a pause in which no request is answered and nothing is sent. Frozen, they are
    never walked again, and a full collection walks only what came after (about 1 ms)."""
    gc.collect()
    gc.freeze()


def _server(app: Any, host: str, port: int) -> _Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # TRUSTED_PROXIES decides (campaignd.api.proxies)
    )
    return _Server(config)


@dataclass
class Instance:
    services: Services
    role: Role

    @property
    def runs_api(self) -> bool:
        return self.role in ("all", "api")

    @property
    def runs_scheduler(self) -> bool:
        return self.role in ("all", "scheduler")

    @property
    def runs_workers(self) -> bool:
        return self.role in ("all", "worker")

    def scheduler(self) -> Scheduler:
        settings = self.services.settings
        lock = create_lock(settings)
        return Scheduler(self.services.database, settings, lock=lock, wakeups=self.services.wakeups)

    def worker(self) -> Worker:
        settings = self.services.settings
        return Worker(
            self.services.database,
            settings,
            transport=create_transport(settings),
            wakeups=self.services.wakeups,
            rate_limiter=create_rate_limiter(settings),
        )


def build_services(settings: Settings) -> Services:
    return Services(
        database=open_database(settings),
        settings=settings,
        wakeups=create_wakeups(settings),
    )


def sends(role: Role) -> bool:
    """Whether an instance of ``role`` schedules or sends (and so needs the SQLite file's
    sending lock, ``store.sending_lock``)."""
    return role != "api"


async def serve(
    settings: Settings, *, role: Role, host: str, port: int, metrics_port: int | None = None
) -> None:
    """Run until SIGTERM or SIGINT, then drain and return.

    With ``metrics_port`` ``/metrics`` (and ``/healthz``) are served on that port too, on
    the same event loop: the one way to scrape a process without the ``api`` role.
    """
    services = build_services(settings)
    instance = Instance(services, role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    jobs: list[Awaitable[None]] = []
    scheduler = instance.scheduler() if instance.runs_scheduler else None
    if scheduler is not None:
        jobs.append(scheduler.run(stop))
    servers: list[_Server] = []
    app = None
    if instance.runs_api:
        lock = None if scheduler is None else scheduler.lock
        app = create_app(dataclasses.replace(services, scheduler_lock=lock))
        servers.append(_server(app, host, port))
    if metrics_port is not None:
        servers.append(_server(metrics_app(), host, metrics_port))
    jobs.extend(server.serve() for server in servers)
    if instance.runs_workers:
        jobs.append(instance.worker().run(stop))
        jobs.append(Dispatcher(services.database, settings).run(stop))
    if instance.runs_scheduler and settings.bounce_imap_url:
        jobs.append(poll_forever(services, stop))
    log_event(
        logger,
        "instance started",
        role=role,
        host=host,
        port=port,
        metrics_port=metrics_port,
        public_url=settings.public_url,
    )

    async def stop_server_when_asked() -> None:
        await stop.wait()
        for server in servers:
            server.should_exit = True

    freeze_start_up_objects()
    try:
        await asyncio.gather(stop_server_when_asked(), *jobs)
    finally:
        if app is not None:
            await tracking.settle(app)  # opens and clicks answered but not yet written
        await services.wakeups.close()
        await services.database.dispose()
    log_event(logger, "instance stopped", role=role)


async def burst(settings: Settings, *, role: Role) -> None:
    """Scheduler and workers drain what is due and queued now, then return."""
    services = build_services(settings)
    instance = Instance(services, role)
    steps: list[Callable[[], Awaitable[None]]] = []
    if instance.runs_scheduler:
        steps.append(instance.scheduler().run_burst)
    if instance.runs_workers:
        steps.append(instance.worker().run_burst)
    try:
        for step in steps:
            await step()
        if len(steps) == 2:
            await steps[0]()  # finish campaigns the workers completed
    finally:
        await services.wakeups.close()
        await services.database.dispose()
