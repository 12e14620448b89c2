"""An organization's images: upload (checked by content, size-limited), list, remove.

Each image is stored once per organization (named by the SHA-256 of its bytes) as a file
under ``IMAGES_DIR`` and served to anyone at ``{PUBLIC_URL}/images/{slug}/{hash}.{ext}``
(``api.images``), for layouts and bodies to use. Uploading the same bytes again answers
the image already there. Audited as ``image.add`` and ``image.remove``.
"""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from campaignd.actions.errors import ActionError, Invalid, NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.actions.suppressions import organization_of
from campaignd.domain.images import EXTENSIONS, ImageProblem, content_hash, image_kind
from campaignd.store import audit
from campaignd.store import images as store
from campaignd.store.columns import utcnow
from campaignd.store.image_files import (
    delete_image_file,
    image_path,
    images_directory,
    write_image,
)
from campaignd.store.images import Image

IMAGES_PATH = "/images"
MAX_NAME = 255


class TooLarge(ActionError):
    status_code = 413


@dataclass(frozen=True)
class ImageView:
    """An image with where it is served."""

    image: Image
    path: str  # /images/{slug}/{hash}.{extension}
    url: str  # PUBLIC_URL + path

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[1]


def image_view(services: Services, image: Image) -> ImageView:
    extension = EXTENSIONS[image.media_type]
    path = f"{IMAGES_PATH}/{image.organization}/{image.hash}.{extension}"
    return ImageView(image, path, services.settings.public_url.rstrip("/") + path)


def shown_name(name: str | None, extension: str) -> str:
    """The uploaded file's own name, without folders or control characters, for people."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    cleaned = "".join(
        character for character in base if unicodedata.category(character)[0] != "C"
    ).strip()
    return cleaned[:MAX_NAME] or f"image.{extension}"


async def add_image(
    services: Services,
    principal: Principal,
    *,
    data: bytes,
    name: str | None = None,
    organization: str | None = None,
) -> tuple[ImageView, bool]:
    """Store the image in ``data``; the view and whether it is new (False: the organization
    already has these bytes). TooLarge above ``IMAGE_MAX_BYTES``, Invalid when the bytes are
    not a PNG, JPEG, GIF or WebP image; either way nothing is stored."""
    principal.require_change()
    limit = services.settings.image_max_bytes
    if len(data) > limit:
        raise TooLarge(
            f"image: the file is larger than the limit of {limit} bytes "
            f"({limit / 1024 / 1024:.1f} MiB, CAMPAIGND_IMAGE_MAX_BYTES)"
        )
    try:
        kind = image_kind(data)
    except ImageProblem as problem:
        raise Invalid(f"image: {problem}") from None
    digest = content_hash(data)
    directory = images_directory(services.settings)
    async with services.database.transaction() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        image, new = await store.add_image(
            connection,
            organization_id=organization_id,
            hash=digest,
            media_type=kind.media_type,
            size=len(data),
            width=kind.width,
            height=kind.height,
            name=shown_name(name, kind.extension),
            now=utcnow(),
            actor=principal.actor,
        )
        path = image_path(directory, slug, f"{digest}.{kind.extension}")
        assert path is not None
        if new or not path.exists():
            await asyncio.to_thread(write_image, path, data)
        if new:
            await audit.record(
                connection,
                actor=principal.actor,
                action="image.add",
                organization_id=organization_id,
                target=str(image.id),
                detail={"hash": digest, "mediaType": kind.media_type, "size": len(data)},
            )
    return image_view(services, image), new


async def list_images(
    services: Services, principal: Principal, *, organization: str | None = None
) -> tuple[str, list[ImageView]]:
    """The organization and its images, newest first."""
    async with services.database.connection() as connection:
        organization_id, slug = await organization_of(connection, principal, organization)
        found = await store.list_images(connection, organization_id=organization_id)
    return slug, [image_view(services, image) for image in found]


async def remove_image(services: Services, principal: Principal, image_id: int) -> ImageView:
    """Delete the image and its file: its URL answers 404 from then on (messages already
    sent that show it lose it, so remove only images no one will open again)."""
    principal.require_change()
    async with services.database.transaction() as connection:
        image = await store.get_image(connection, image_id, organization_id=principal.scope)
        if image is None:
            raise NotFound(f"image {image_id} not found")
        await store.remove_image(connection, image_id)
        await audit.record(
            connection,
            actor=principal.actor,
            action="image.remove",
            organization_id=image.organization_id,
            target=str(image_id),
            detail={"hash": image.hash, "name": image.name},
        )
    view = image_view(services, image)
    path = image_path(images_directory(services.settings), image.organization, view.file_name)
    if path is not None:
        await asyncio.to_thread(delete_image_file, path)
    return view
