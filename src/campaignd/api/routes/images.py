"""An organization's images: upload (multipart), list, remove."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.datastructures import UploadFile

from campaignd.actions import images as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.content import media_type
from campaignd.api.errors import ProblemError
from campaignd.api.models import ResponseModel, problem
from campaignd.api.params import MAX_ID
from campaignd.api.routing import ApiRoute

router = APIRouter(tags=["images"], route_class=ApiRoute)

Organization = Annotated[
    str | None, Query(description="organization slug; required for platform admins")
]
FIELD = "image"


class ImageModel(ResponseModel):
    id: int
    organization: str
    url: str
    """Where anyone can load it: `{PUBLIC_URL}/images/{organization}/{hash}.{extension}`."""
    name: str
    """The uploaded file's name (for people; the URL does not use it)."""
    media_type: str
    size: int
    width: int
    height: int
    hash: str
    created_at: datetime
    created_by: str


class ImageList(ResponseModel):
    organization: str
    images: list[ImageModel]


def image_model(view: actions.ImageView) -> ImageModel:
    image = view.image
    return ImageModel(
        id=image.id,
        organization=image.organization,
        url=view.url,
        name=image.name,
        media_type=image.media_type,
        size=image.size,
        width=image.width,
        height=image.height,
        hash=image.hash,
        created_at=image.created_at,
        created_by=image.created_by,
    )


async def _upload(request: Request, limit: int) -> tuple[bytes, str | None]:
    kind = media_type(request)
    if kind != "multipart/form-data":
        raise ProblemError(
            415, f"send the image as multipart/form-data in a field named {FIELD}, not {kind}"
        )
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as error:  # a malformed multipart body, or more than one file
        raise ProblemError(400, f"the multipart body cannot be read: {error}") from None
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile):
        raise ProblemError(422, f"{FIELD}: is required (a file field named {FIELD})")
    try:
        return await upload.read(limit + 1), upload.filename
    finally:
        await upload.close()


@router.post(
    "/images",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The organization has these bytes already: that image"},
        413: problem("The image is larger than CAMPAIGND_IMAGE_MAX_BYTES"),
        415: problem("Not a multipart/form-data body"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [FIELD],
                        "properties": {FIELD: {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def add_image(
    request: Request,
    response: Response,
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
) -> ImageModel:
    """Upload a PNG, JPEG, GIF or WebP image (judged by its content, not its name) of at most
    `CAMPAIGND_IMAGE_MAX_BYTES` (5 MiB) in the field `image`. Answers the image with its
    public `url`, cached for a year by browsers and mail proxies. The same bytes uploaded
    again answer 200 with the image already there. SVG is refused."""
    principal.require_change()
    data, name = await _upload(request, services.settings.image_max_bytes)
    view, new = await actions.add_image(
        services, principal, data=data, name=name, organization=organization
    )
    if not new:
        response.status_code = status.HTTP_200_OK
    return image_model(view)


@router.get("/images")
async def list_images(
    services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> ImageList:
    """The organization's images, newest first, each with its public URL, type and size."""
    slug, views = await actions.list_images(services, principal, organization=organization)
    return ImageList(organization=slug, images=[image_model(view) for view in views])


@router.delete("/images/{image_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_image(
    image_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The image's id")],
    services: ServicesDep,
    principal: PrincipalDep,
) -> Response:
    """Delete an image: its URL answers 404 from then on, also in messages already sent."""
    await actions.remove_image(services, principal, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
