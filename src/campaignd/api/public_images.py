"""Images served to anyone: ``GET /images/{organization}/{hash}.{extension}``.

Straight from ``IMAGES_DIR``: a name is either one campaignd made (a slug, 64 hex digits and
a known extension) or answers 404 without touching the disk, so no request reaches outside
the directory. A file's name is the hash of its bytes, so it never changes: it is cached
for a year (``immutable``), with its type from its extension (checked by content when it
was uploaded), ``nosniff``, and a policy that lets nothing in it run.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from campaignd.domain.images import MEDIA_TYPES
from campaignd.store.image_files import image_path, images_directory

router = APIRouter(include_in_schema=False)

HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


@router.api_route("/images/{organization}/{file_name}", methods=["GET", "HEAD"])
async def image(request: Request, organization: str, file_name: str) -> Response:
    settings = request.app.state.services.settings
    path = image_path(images_directory(settings), organization, file_name)
    if path is None or not path.is_file():
        return JSONResponse(
            {"detail": "no such image"},
            status_code=404,
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )
    extension = file_name.rsplit(".", 1)[1]
    return FileResponse(path, media_type=MEDIA_TYPES[extension], headers=HEADERS)
