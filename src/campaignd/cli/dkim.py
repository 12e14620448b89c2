"""``campaignd dkim``: DKIM keys of an organization's sending domains."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from campaignd.actions import dkim as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, fail, note
from campaignd.cli.output import JSON, json_value, print_json, print_table

app = command_group("Manage DKIM keys (signatures receivers check against your DNS).")

ORGANIZATION = typer.Option(..., "--org", metavar="SLUG", help="The organization's slug.")
DOMAIN = typer.Option(
    ..., "--domain", metavar="DOMAIN", help="The domain of the From addresses it signs."
)
SELECTOR = typer.Option(
    ..., "--selector", metavar="SELECTOR", help="The key's name in DNS (like cmp1 or 2026a)."
)


def key_record(view: actions.KeyView) -> dict[str, object]:
    """A key as ``--json`` prints it (the API's fields; never the private key)."""
    document: dict[str, object] = {
        "organization": view.organization,
        "domain": view.key.domain,
        "selector": view.key.selector,
        "algorithm": view.key.algorithm,
        "recordName": view.record_name,
        "recordValue": view.record_value,
        "createdAt": json_value(view.key.created_at),
    }
    if view.dns is not None:
        document["dns"] = {
            "status": view.dns.status,
            "records": list(view.dns.records),
            "error": view.dns.error,
        }
    return document


def _read_key_file(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(actions.MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        raise fail(f"--key-file: cannot read {path}: {error.strerror or error}") from None
    if len(data) > actions.MAX_KEY_FILE_BYTES:
        raise fail(f"--key-file: {path} is too large for a private key")
    return data


@app.command("add")
def add(
    org: str = ORGANIZATION,
    domain: str = DOMAIN,
    selector: str = SELECTOR,
    algorithm: str | None = typer.Option(
        None,
        "--algorithm",
        metavar="rsa|ed25519",
        help="rsa (RSA-2048, the default) or ed25519. With --key-file: the key's kind.",
    ),
    key_file: Path | None = typer.Option(
        None,
        "--key-file",
        metavar="PEM",
        help="Use this PEM private key instead of generating one.",
        dir_okay=False,
    ),
    as_json: bool = JSON,
) -> None:
    """Add a key for a domain; print the TXT record to publish.

    Without --key-file a new key is generated. The private key is stored encrypted with
    the instance's secret and never shown again. Every message whose From address is in
    DOMAIN (or below it, when the subdomain has no key of its own) is signed with every
    key of that domain, from the next campaign on. Add an rsa and an ed25519 key (two
    selectors) to sign each message twice.

    \b
    Example:
      campaignd dkim add --org acme --domain news.acme.example --selector cmp1
      campaignd dkim add --org acme --domain news.acme.example --selector cmp1e \\
          --algorithm ed25519
    """
    settings = prepared_settings()
    pem = _read_key_file(key_file) if key_file is not None else None

    async def work(services: Services, principal: Principal) -> actions.KeyView:
        return await actions.add_key(
            services,
            principal,
            domain=domain,
            selector=selector,
            algorithm=algorithm,
            private_pem=pem,
            organization=org,
        )

    view = run_action(settings, work)
    if as_json:
        print_json(key_record(view))
        return
    kind = "an RSA" if view.key.algorithm == "rsa" else "an Ed25519"
    note(
        f"added {kind} key to {view.organization}; its private key is stored encrypted and "
        "will not be shown again. Publish this TXT record:"
    )
    console.print(f"name:  {view.record_name}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"value: {view.record_value}", highlight=False, markup=False, soft_wrap=True)


@app.command("list")
def list_(
    org: str = ORGANIZATION,
    check_dns: bool = typer.Option(
        True, "--dns/--no-dns", help="Look up whether DNS serves each record (default: yes)."
    ),
    as_json: bool = JSON,
) -> None:
    """List the keys, their records and whether DNS serves them.

    The DNS status of each record: published, not published, differs (another key or
    several records are there) or unknown (DNS gave no answer).

    The DNS servers are the system's, or those in CAMPAIGND_DNS_NAMESERVERS.

    \b
    Example:
      campaignd dkim list --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[actions.KeyView]]:
        return await actions.list_keys(services, principal, organization=org, check_dns=check_dns)

    slug, views = run_action(settings, work)
    if as_json:
        print_json({"organization": slug, "keys": [key_record(view) for view in views]})
        return
    if not views:
        console.print(
            f"{slug} has no DKIM keys: its messages are sent unsigned. Add one with "
            f"`campaignd dkim add --org {slug} --domain DOMAIN --selector SELECTOR`.",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        return
    table = Table("domain", "selector", "algorithm", "dns", "added", "record name", "value")
    for view in views:
        status = view.dns.status if view.dns is not None else "not checked"
        if view.dns is not None and view.dns.error:
            status += f" ({view.dns.error})"
        table.add_row(
            view.key.domain,
            view.key.selector,
            view.key.algorithm,
            status,
            format_time(view.key.created_at),
            view.record_name,
            view.record_value,
        )
    print_table(table)


@app.command("remove")
def remove(org: str = ORGANIZATION, domain: str = DOMAIN, selector: str = SELECTOR) -> None:
    """Remove a key: messages are no longer signed with it.

    Keep its DNS record for a few days, until no message signed with it is still on its
    way to a mailbox.

    \b
    Example:
      campaignd dkim remove --org acme --domain news.acme.example --selector cmp1
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.KeyView:
        return await actions.remove_key(
            services, principal, domain=domain, selector=selector, organization=org
        )

    view = run_action(settings, work)
    console.print(
        f"removed the DKIM key {view.record_name} from {view.organization}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
