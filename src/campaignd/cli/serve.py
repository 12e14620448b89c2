"""``campaignd serve``: run an instance."""

from __future__ import annotations

import contextlib
import logging

import typer

from campaignd.actions.bootstrap import RECOVERY, first_start
from campaignd.cli.common import (
    console,
    ensure_schema,
    fail,
    run_with_database,
    settings_or_exit,
)
from campaignd.logs import configure_logging, log_event
from campaignd.settings import WILDCARD_HOSTS, Role, Settings, served_url, serves
from campaignd.store.sending_lock import AlreadySending, sending_process

logger = logging.getLogger("campaignd.serve")


def check_public_url(settings: Settings, *, host: str, port: int, role: str) -> None:
    """One log line when unsubscribe and admin links (PUBLIC_URL) will not lead here."""
    served = served_url(host, port)
    public = settings.public_url
    if not settings.public_url_is_set:
        if host in WILDCARD_HOSTS and role in ("all", "api", "worker"):
            log_event(
                logger,
                f"CAMPAIGND_PUBLIC_URL is not set and this instance listens on every address: "
                f"unsubscribe and admin links use {public}, which only this machine reaches; "
                "set CAMPAIGND_PUBLIC_URL to the address recipients reach",
                level=logging.WARNING,
                public_url=public,
                served=f"http://{host}:{port}",
            )
        elif role == "worker":
            log_event(
                logger,
                f"CAMPAIGND_PUBLIC_URL is not set: unsubscribe links use {public} (this "
                "process's --host and --port); set it to the API's public address",
                level=logging.WARNING,
                public_url=public,
            )
        return
    if role not in ("all", "api") or serves(public, host, port):
        return
    behind_proxy = bool(settings.trusted_proxies.strip())
    log_event(
        logger,
        f"CAMPAIGND_PUBLIC_URL is {public} but this instance serves {served}: unsubscribe "
        "and admin links lead to the former; right when a reverse proxy forwards it here, "
        "else correct CAMPAIGND_PUBLIC_URL",
        level=logging.INFO if behind_proxy else logging.WARNING,
        public_url=public,
        served=served,
    )


def serve(
    host: str = typer.Option(
        "127.0.0.1", metavar="HOST", help="Address to listen on (0.0.0.0: every address)."
    ),
    port: int = typer.Option(
        8000, metavar="PORT", help="Port of the API and admin UI (and of their links)."
    ),
    role: Role = typer.Option(
        "all",
        metavar="all|api|scheduler|worker",
        help="Run everything, or one role (split roles across processes).",
    ),
    burst: bool = typer.Option(
        False, "--burst", help="Scheduler and workers drain what is due now, then exit (no API)."
    ),
    metrics_port: int | None = typer.Option(
        None,
        min=1,
        max=65535,
        metavar="PORT",
        help="Also serve /metrics and /healthz on this port: how scheduler and worker "
        "processes are scraped. Default: CAMPAIGND_METRICS_PORT, else none.",
    ),
) -> None:
    """Run an instance: API, admin UI, scheduler and workers.

    --role runs one of them only. On an empty SQLite database the schema is created, and
    on the very first start of a database a platform admin token is printed, once ever
    (later: campaignd token create --role platform_admin). Unsubscribe and admin links use
    http://HOST:PORT unless CAMPAIGND_PUBLIC_URL is set. SIGTERM drains: no new claims,
    in-flight messages finish, exit 0.
    """
    settings = settings_or_exit().serving(host, port)
    metrics_port = metrics_port or settings.metrics_port
    if metrics_port == port and role in ("all", "api") and not burst:
        raise typer.BadParameter(
            f"the API serves /metrics on --port {port} already; choose another port",
            param_hint="--metrics-port",
        )
    configure_logging(settings.log_format, settings.log_level)
    ensure_schema(settings, create=True)
    if not burst:
        check_public_url(settings, host=host, port=port, role=role)
    started = run_with_database(settings, first_start)
    if started.token is not None:
        admin_url = f"{settings.public_url}/admin/login"
        console.print(
            "\n[bold]First start.[/bold] Your platform admin token (shown only this once):\n"
            f"\n  {started.token}\n\nSign in at {admin_url}\n",
            highlight=False,
        )
    elif started.live_platform_admins == 0:
        log_event(
            logger,
            f"no live platform admin token: create one from a shell with `{RECOVERY}`",
            level=logging.WARNING,
        )
    from campaignd import runtime

    sending = runtime.sends(role)
    try:
        with sending_process(settings.database_url) if sending else contextlib.nullcontext():
            if burst:
                runtime.run_event_loop(runtime.burst(settings, role=role))
                return
            runtime.run_event_loop(
                runtime.serve(settings, role=role, host=host, port=port, metrics_port=metrics_port)
            )
    except AlreadySending as error:
        raise fail(str(error)) from None
