"""``campaignd webhook``: endpoints that receive an organization's events, signed."""

from __future__ import annotations

import typer
from rich.table import Table

from campaignd.actions import webhooks as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, note
from campaignd.cli.output import JSON, json_value, print_json, print_table
from campaignd.domain.webhooks import EVENT_TYPES
from campaignd.store.webhooks import Attempt, Message

app = command_group("Post signed events to your application (webhook endpoints).")

ORGANIZATION = typer.Option(..., "--org", metavar="SLUG", help="The organization's slug.")
ENDPOINT = typer.Argument(..., metavar="ID", help="The endpoint's id (see `webhook list`).")


def _print(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def endpoint_record(view: actions.EndpointView) -> dict[str, object]:
    """An endpoint as ``--json`` prints it (the API's fields; never the secret)."""
    endpoint = view.endpoint
    return {
        "id": endpoint.id,
        "organization": view.organization,
        "url": endpoint.url,
        "description": endpoint.description,
        "eventTypes": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
        "disabledAt": json_value(endpoint.disabled_at),
        "failingSince": json_value(endpoint.failing_since),
        "lastError": endpoint.last_error,
        "createdAt": json_value(endpoint.created_at),
    }


def attempt_record(attempt: Attempt) -> dict[str, object]:
    return {
        "messageId": attempt.message_id,
        "eventType": attempt.event_type,
        "attemptedAt": json_value(attempt.attempted_at),
        "statusCode": attempt.status_code,
        "error": attempt.error,
        "durationMs": attempt.duration_ms,
    }


def message_record(message: Message) -> dict[str, object]:
    return {
        "messageId": message.message_id,
        "eventType": message.event_type,
        "createdAt": json_value(message.created_at),
        "status": message.status,
        "attempts": message.attempts,
        "nextAttemptAt": json_value(message.next_attempt_at)
        if message.status == "pending"
        else None,
        "lastStatusCode": message.last_status_code,
        "lastError": message.last_error,
    }


@app.command("add")
def add(
    org: str = ORGANIZATION,
    url: str = typer.Option(..., "--url", metavar="URL", help="The https URL to post to."),
    events: str = typer.Option(
        ...,
        "--events",
        metavar="TYPES",
        help=f"Comma-separated event types: {', '.join(EVENT_TYPES)}.",
    ),
    description: str = typer.Option(
        "", "--description", metavar="TEXT", help="A note for the admins."
    ),
    as_json: bool = JSON,
) -> None:
    """Register an endpoint; print its id and secret.

    The secret is shown this once.

    Each event is posted as JSON with the Standard Webhooks headers webhook-id,
    webhook-timestamp and webhook-signature (v1, HMAC-SHA256 with the secret). Failed
    posts are retried for about a day; an endpoint that keeps failing is disabled.

    \b
    Example:
      campaignd webhook add --org acme --url https://app.acme.example/hooks \\
          --events sent,unsubscribed,campaign.finished
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.Created:
        return await actions.add_endpoint(
            services,
            principal,
            url=url,
            event_types=events.split(","),
            description=description,
            organization=org,
        )

    created = run_action(settings, work)
    if as_json:
        print_json(endpoint_record(created.view) | {"secret": created.secret})
        return
    note("the secret is stored encrypted and will not be shown again; keep it now")
    _print(f"id:     {created.view.endpoint.id}")
    _print(f"secret: {created.secret}")


@app.command("list")
def list_(org: str = ORGANIZATION, as_json: bool = JSON) -> None:
    """List the endpoints, their event types, and why any is disabled.

    \b
    Example:
      campaignd webhook list --org acme
    """
    settings = prepared_settings()

    async def work(
        services: Services, principal: Principal
    ) -> tuple[str, list[actions.EndpointView]]:
        return await actions.list_endpoints(services, principal, organization=org)

    slug, views = run_action(settings, work)
    if as_json:
        print_json({"organization": slug, "webhooks": [endpoint_record(view) for view in views]})
        return
    if not views:
        _print(
            f"{slug} has no webhook endpoints. Add one with `campaignd webhook add --org {slug} "
            "--url URL --events TYPES`."
        )
        return
    table = Table("id", "url", "events", "state", "last error", "added")
    for view in views:
        endpoint = view.endpoint
        state = "enabled" if endpoint.enabled else f"disabled: {endpoint.disabled_reason}"
        table.add_row(
            str(endpoint.id),
            endpoint.url,
            ", ".join(endpoint.event_types),
            state,
            endpoint.last_error or "",
            format_time(endpoint.created_at),
        )
    print_table(table)


@app.command("remove")
def remove(endpoint_id: int = ENDPOINT, org: str = ORGANIZATION) -> None:
    """Delete an endpoint with its pending events and history.

    \b
    Example:
      campaignd webhook remove 3 --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.EndpointView:
        return await actions.remove_endpoint(services, principal, endpoint_id, organization=org)

    view = run_action(settings, work)
    _print(
        f"removed webhook endpoint {view.endpoint.id} ({view.endpoint.url}) "
        f"from {view.organization}"
    )


def _set_enabled(endpoint_id: int, org: str, enabled: bool) -> actions.EndpointView:
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.EndpointView:
        return await actions.update_endpoint(
            services, principal, endpoint_id, enabled=enabled, organization=org
        )

    return run_action(settings, work)


@app.command("enable")
def enable(endpoint_id: int = ENDPOINT, org: str = ORGANIZATION) -> None:
    """Enable an endpoint again; its pending events resume.

    For one disabled by hand or for failing.

    \b
    Example:
      campaignd webhook enable 3 --org acme
    """
    view = _set_enabled(endpoint_id, org, True)
    _print(f"webhook endpoint {view.endpoint.id} is enabled")


@app.command("disable")
def disable(endpoint_id: int = ENDPOINT, org: str = ORGANIZATION) -> None:
    """Stop posting to an endpoint.

    Its events wait until it is enabled again.

    \b
    Example:
      campaignd webhook disable 3 --org acme
    """
    view = _set_enabled(endpoint_id, org, False)
    _print(f"webhook endpoint {view.endpoint.id} is disabled")


@app.command("attempts")
def attempts(
    endpoint_id: int = ENDPOINT,
    org: str = ORGANIZATION,
    limit: int = typer.Option(
        20, "--limit", metavar="N", min=1, max=actions.MAX_LIMIT, help="How many of each."
    ),
    as_json: bool = JSON,
) -> None:
    """Show an endpoint's newest events and attempts.

    With each attempt's status code, or the error when there was no answer.

    \b
    Example:
      campaignd webhook attempts 3 --org acme --limit 50
    """
    settings = prepared_settings()

    async def work(
        services: Services, principal: Principal
    ) -> tuple[actions.EndpointView, list[Message], list[Attempt]]:
        view, found = await actions.attempts(
            services, principal, endpoint_id, limit=limit, organization=org
        )
        _, pending = await actions.messages(
            services, principal, endpoint_id, limit=limit, organization=org
        )
        return view, pending, found

    view, found_messages, found_attempts = run_action(settings, work)
    if as_json:
        print_json(
            {
                "webhook": endpoint_record(view),
                "messages": [message_record(item) for item in found_messages],
                "attempts": [attempt_record(item) for item in found_attempts],
            }
        )
        return
    endpoint = view.endpoint
    if not endpoint.enabled:
        _print(f"disabled: {endpoint.disabled_reason}")
    messages_table = Table("message id", "event", "status", "attempts", "next attempt", "last")
    for message in found_messages:
        last = (
            str(message.last_status_code)
            if message.last_status_code is not None
            else message.last_error or ""
        )
        messages_table.add_row(
            message.message_id,
            message.event_type,
            message.status,
            str(message.attempts),
            format_time(message.next_attempt_at) if message.status == "pending" else "",
            last,
        )
    print_table(messages_table)
    attempts_table = Table("at", "message id", "event", "status", "error", "ms")
    for attempt in found_attempts:
        attempts_table.add_row(
            format_time(attempt.attempted_at),
            attempt.message_id,
            attempt.event_type,
            str(attempt.status_code) if attempt.status_code is not None else "no answer",
            attempt.error or "",
            str(attempt.duration_ms),
        )
    print_table(attempts_table)


@app.command("replay")
def replay(
    endpoint_id: int = ENDPOINT,
    message_id: str = typer.Argument(..., metavar="MESSAGE_ID", help="msg_... (see attempts)."),
    org: str = ORGANIZATION,
) -> None:
    """Post one event again, now, with the same webhook-id and body.

    \b
    Example:
      campaignd webhook replay 3 msg_2Lk... --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> Message:
        return await actions.replay(services, principal, endpoint_id, message_id, organization=org)

    message = run_action(settings, work)
    _print(
        f"{message.message_id} ({message.event_type}) is due again: a running instance posts "
        "it within a second"
    )
