"""``campaignd demo``: the whole product in a minute on the embedded default.

Creates the organization ``demo``, a personalised campaign to a few hundred addresses at
reserved example domains, schedules it a few seconds ahead, runs the scheduler and the
delivery workers in this process and shows the campaign going out.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import typer

from campaignd.actions import campaigns as actions
from campaignd.actions.errors import ActionError
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import build_services, cli_principal, close_services
from campaignd.cli.common import console, ensure_schema, fail, settings_or_exit
from campaignd.cli.progress import FINAL_STATUSES, watch_campaign
from campaignd.domain.recipients import from_json
from campaignd.logs import configure_logging
from campaignd.settings import Settings
from campaignd.store.campaigns import count_campaigns
from campaignd.store.columns import utcnow
from campaignd.store.organizations import create_organization, organization_by_slug
from campaignd.store.rows import Row

ORGANIZATION = "demo"
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
CITIES = ("Berlin", "Lisbon", "Oslo", "Toronto", "Kyoto", "Nairobi")
DOMAINS = ("example.com", "example.org")

SUBJECT = "{{ first_name }}, the {{ city }} tasting evening is on"
HTML_BODY = """<h1>Hello {{ first_name }}!</h1>
<p>Our tasting evening comes to <strong>{{ city }}</strong> next month, and you are invited.</p>
<p>Reply to this message to save your seat.</p>
<p style="font-size:small"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
"""
TEXT_BODY = """Hello {{ first_name }}!

Our tasting evening comes to {{ city }} next month, and you are invited.
Reply to this message to save your seat.

Unsubscribe: {{ unsubscribe_url }}
"""


def outbox_directory(settings: Settings) -> Path | None:
    transport = settings.email_transport
    return Path(transport.removeprefix("file://")) if transport.startswith("file://") else None


def demo_recipients(count: int, run_number: int) -> list[dict[str, object]]:
    """Fresh addresses per run (the run number is in them), so the cooldown skips nobody."""
    people: list[dict[str, object]] = []
    for index in range(count):
        first_name = FIRST_NAMES[index % len(FIRST_NAMES)]
        domain = DOMAINS[index % len(DOMAINS)]
        people.append(
            {
                "email": f"{first_name.lower()}.{index + 1}.run{run_number}@{domain}",
                "vars": {"first_name": first_name, "city": CITIES[index % len(CITIES)]},
            }
        )
    return people


async def _prepare(services: Services) -> int:
    """The demo organization (created when missing) and this run's number."""
    async with services.database.transaction() as connection:
        organization = await organization_by_slug(connection, ORGANIZATION)
        if organization is None:
            organization = await create_organization(
                connection, slug=ORGANIZATION, name="Demo Company"
            )
        return await count_campaigns(connection, organization_id=organization["id"]) + 1


async def _create(services: Services, principal: Principal, *, count: int, delay: float) -> Row:
    run_number = await _prepare(services)
    content = actions.CampaignContent(
        name=f"Tasting evening (demo {run_number})",
        subject=SUBJECT,
        html_body=HTML_BODY,
        text_body=TEXT_BODY,
    )
    campaign, _ = await actions.create_campaign(
        services,
        principal,
        content,
        organization=ORGANIZATION,
        recipient_list=from_json(demo_recipients(count, run_number)),
        scheduled_for=utcnow() + timedelta(seconds=delay),
    )
    return campaign


async def _run(settings: Settings, *, count: int, delay: float, timeout: float) -> Row:
    from campaignd.runtime import Instance

    services = build_services(settings)
    principal = cli_principal()
    stop = asyncio.Event()
    try:
        campaign = await _create(services, principal, count=count, delay=delay)
        console.print(
            f"created campaign {campaign['id']} '{campaign['name']}' for "
            f"{campaign['recipient_count']} recipients, due in {delay:g} s",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        instance = Instance(services, "all")
        tasks = [
            asyncio.create_task(instance.scheduler().run(stop)),
            asyncio.create_task(instance.worker().run(stop)),
        ]

        def finished(row: Row) -> bool:
            return row["status"] in FINAL_STATUSES or any(task.done() for task in tasks)

        try:
            watching = watch_campaign(
                services, principal, int(campaign["id"]), interval=0.25, until=finished
            )
            campaign = await asyncio.wait_for(watching, timeout)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
        return campaign
    finally:
        await close_services(services)


def _explain(campaign: Row, settings: Settings) -> None:
    counts = campaign["counts"]
    console.print(
        f"\ncampaign {campaign['id']} is {campaign['status']}: {counts.get('sent', 0)} sent, "
        f"{counts.get('failed', 0)} failed, {counts.get('skipped', 0)} skipped",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    if counts.get("skipped"):
        console.print(
            f"see why some were skipped: campaignd campaign status {campaign['id']}; "
            f"campaignd campaign preview {campaign['id']}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    outbox = outbox_directory(settings)
    if outbox is not None:
        ours = sorted(outbox.glob(f"{campaign['id']}.*.eml"))
        console.print(
            f"messages: {len(ours)} .eml files of this campaign in {outbox.resolve()}/",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        if ours:
            console.print(
                f"  look at one: less {ours[0].resolve()}", highlight=False, soft_wrap=True
            )
    page = f"/admin/marketing/campaigns/{campaign['id']}"
    if settings.public_url_is_set:
        where = f"{settings.public_url}{page} (CAMPAIGND_PUBLIC_URL)"
    else:
        where = f"{settings.public_url}{page} (with `serve --host H --port P`: http://H:P{page})"
    console.print(
        "admin UI: start it here with `campaignd serve` and open\n"
        f"  {where}\n"
        "  (the first start prints a sign-in token; later, create one with "
        "`campaignd token create --role platform_admin`)",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


def demo(
    recipients: int = typer.Option(
        300, metavar="N", help="How many example addresses.", min=1, max=100_000
    ),
    delay: float = typer.Option(
        5.0, metavar="SECONDS", help="Seconds until the campaign is due.", min=0.5
    ),
    timeout: float = typer.Option(
        300.0, metavar="SECONDS", help="Give up after this many seconds.", min=1
    ),
) -> None:
    """The whole product in a minute: a sample campaign sent to files.

    Creates a sample campaign, schedules it seconds ahead and watches it go out. Uses the
    configured database (by default ./campaignd.db) and writes the messages as .eml files
    to the outbox (by default ./outbox); it never sends real mail. Run it as often as you
    like: each run mails a fresh set of example addresses, so the cooldown skips nobody.

    \b
    Example:
      campaignd demo --recipients 50
    """
    settings = settings_or_exit()
    if outbox_directory(settings) is None:
        raise fail(
            "the demo writes .eml files and sends no real mail: set "
            "CAMPAIGND_EMAIL_TRANSPORT=file://./outbox (it is "
            f"{settings.email_transport.split('://', 1)[0]}://... now)"
        )
    ensure_schema(settings, create=True)
    configure_logging(settings.log_format, "WARNING")
    from campaignd.runtime import run_event_loop  # the web app: only the commands that serve

    try:
        campaign = run_event_loop(_run(settings, count=recipients, delay=delay, timeout=timeout))
    except TimeoutError:
        raise fail(f"the campaign did not finish within {timeout:g} seconds") from None
    except ActionError as error:
        raise fail(error.detail) from None
    _explain(campaign, settings)
    if campaign["status"] not in FINAL_STATUSES:
        raise fail(f"the scheduler or a worker stopped early; campaign is {campaign['status']}")
