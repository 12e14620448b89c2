"""``campaignd image``: an organization's images for layouts and bodies."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from campaignd.actions import images as actions
from campaignd.actions.errors import ActionError
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, errors, note
from campaignd.cli.output import JSON, json_value, print_json, print_table

app = command_group("Upload, list and remove the images layouts and bodies show.")

ORGANIZATION = typer.Option(..., "--org", metavar="SLUG", help="The organization's slug.")


def image_record(view: actions.ImageView) -> dict[str, object]:
    """An image as ``--json`` prints it (the API's fields)."""
    image = view.image
    return {
        "id": image.id,
        "organization": image.organization,
        "url": view.url,
        "name": image.name,
        "mediaType": image.media_type,
        "size": image.size,
        "width": image.width,
        "height": image.height,
        "hash": image.hash,
        "createdAt": json_value(image.created_at),
        "createdBy": image.created_by,
    }


def _read(path: Path, limit: int) -> bytes:
    with path.open("rb") as file:
        return file.read(limit + 1)


@app.command("add")
def add(
    files: list[Path] = typer.Argument(
        ..., metavar="FILE...", help="PNG, JPEG, GIF or WebP files.", dir_okay=False
    ),
    org: str = ORGANIZATION,
    as_json: bool = JSON,
) -> None:
    """Upload images; print the public URL of each.

    Each file is judged by its content (PNG, JPEG, GIF or WebP; not SVG), up to
    CAMPAIGND_IMAGE_MAX_BYTES (5 MiB). It is stored under CAMPAIGND_IMAGES_DIR and served
    to anyone at PUBLIC_URL/images/SLUG/HASH.EXT: put that URL in a layout or a body. A
    file the organization has already uploaded gives the image already there. A refused
    file is named with the reason and the others are still added (exit code 1).

    \b
    Example:
      campaignd image add --org acme logo.png banner.jpg
    """
    settings = prepared_settings()
    added: list[tuple[Path, actions.ImageView, bool]] = []
    refused: list[str] = []

    async def work(services: Services, principal: Principal) -> None:
        for path in files:
            try:
                data = _read(path, settings.image_max_bytes)
            except OSError as error:
                refused.append(f"{path}: cannot read it: {error.strerror or error}")
                continue
            try:
                view, new = await actions.add_image(
                    services, principal, data=data, name=path.name, organization=org
                )
            except ActionError as error:
                if "organization" in error.detail.split(":", 1)[0]:
                    raise
                refused.append(f"{path}: {error.detail}")
                continue
            added.append((path, view, new))

    run_action(settings, work)
    if as_json:
        print_json(
            {
                "images": [image_record(view) | {"new": new} for _, view, new in added],
                "refused": refused,
            }
        )
    else:
        for path, view, new in added:
            if not new:
                note(f"{path}: {view.image.organization} has this image already")
            console.print(view.url, highlight=False, markup=False, soft_wrap=True)
    for line in refused:
        errors.print(f"error: {line}", highlight=False, markup=False, soft_wrap=True)
    if refused:
        raise typer.Exit(1)


@app.command("list")
def list_(org: str = ORGANIZATION, as_json: bool = JSON) -> None:
    """List the organization's images, newest first, with their URLs.

    \b
    Example:
      campaignd image list --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[actions.ImageView]]:
        return await actions.list_images(services, principal, organization=org)

    slug, views = run_action(settings, work)
    if as_json:
        print_json({"organization": slug, "images": [image_record(view) for view in views]})
        return
    if not views:
        console.print(
            f"{slug} has no images. Add one with `campaignd image add --org {slug} FILE`.",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        return
    table = Table("id", "name", "type", "size", "pixels", "added", "url")
    for view in views:
        image = view.image
        table.add_row(
            str(image.id),
            image.name,
            image.media_type,
            f"{image.size:,} B",
            f"{image.width}x{image.height}",
            format_time(image.created_at),
            view.url,
        )
    print_table(table)


@app.command("remove")
def remove(
    image_id: int = typer.Argument(..., metavar="ID", help="The image's id.", min=1),
) -> None:
    """Remove an image: its URL answers 404 from then on.

    Messages already sent that show it lose it, so remove only images nobody will open
    again.

    \b
    Example:
      campaignd image remove 4
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.ImageView:
        return await actions.remove_image(services, principal, image_id)

    view = run_action(settings, work)
    console.print(
        f"removed image {view.image.id} ({view.image.name}) of {view.image.organization}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
