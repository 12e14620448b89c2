"""The bytes of images, as files: ``{IMAGES_DIR}/{organization slug}/{hash}.{extension}``.

``CAMPAIGND_IMAGES_DIR`` unset: ``images`` beside the SQLite database file, or ``./images``
(in the working directory) with PostgreSQL. Several instances must share the directory (a
shared volume), since any of them may serve an image another stored.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from campaignd.settings import Settings

FILE_NAME = re.compile(r"[0-9a-f]{64}\.(png|jpg|gif|webp)")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def images_directory(settings: Settings) -> Path:
    if settings.images_dir:
        return Path(settings.images_dir)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "images"
    return Path("images")


def image_path(directory: Path, organization: str, file_name: str) -> Path | None:
    """Where the file ``file_name`` of ``organization`` is; None when either name is not one
    that campaignd makes (so no request can reach outside the directory)."""
    if not SLUG.fullmatch(organization) or not FILE_NAME.fullmatch(file_name):
        return None
    return directory / organization / file_name


def write_image(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def delete_image_file(path: Path) -> None:
    path.unlink(missing_ok=True)
