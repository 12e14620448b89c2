"""Images: upload (one or several files), see them as thumbnails with their URL, remove."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from campaignd.actions import images as actions
from campaignd.actions.errors import ActionError, NotFound
from campaignd.api.params import MAX_ID
from campaignd.web.auth import Viewer, ViewerDep
from campaignd.web.csrf import checked_form
from campaignd.web.errors import AdminRoute
from campaignd.web.forms import text_of
from campaignd.web.page_parts import chosen_organization, listed, optional_text, sentence
from campaignd.web.rendering import flash_and_redirect, render
from campaignd.web.routes.campaigns import READ_ONLY
from campaignd.web.session import services_of

PAGE_URL = "/admin/marketing/images"
FIELD = "images"

router = APIRouter(prefix=PAGE_URL, route_class=AdminRoute)


def page_url(organization: str | None) -> str:
    return f"{PAGE_URL}?{urlencode({'organization': organization})}" if organization else PAGE_URL


def _back(viewer: Viewer, organization: str | None) -> str:
    return page_url(organization if viewer.is_platform_admin else None)


@router.get("")
async def images_page(
    request: Request, viewer: ViewerDep, organization: str | None = None
) -> Response:
    organization = optional_text(organization)
    organizations, organization = await chosen_organization(request, viewer, organization)
    found, list_error = await listed(request, viewer, organization, actions.list_images)
    views: list[actions.ImageView] = []
    slug, views = found or (organization or viewer.principal.organization_slug, views)
    context = {
        "active": "images",
        "organizations": organizations,
        "organization": organization,
        "slug": slug,
        "images": views,
        "list_error": list_error,
        "max_bytes": services_of(request).settings.image_max_bytes,
    }
    return await render(request, "images.html", context, viewer=viewer)


def _described(view: actions.ImageView, new: bool) -> str:
    image = view.image
    kind = image.media_type.removeprefix("image/").upper()
    what = f"{image.name} ({kind}, {image.width} by {image.height} pixels, {image.size:,} bytes)"
    return what if new else f"{what}, which was there already"


@router.post("/upload")
async def upload(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request)
    organization = optional_text(text_of(form, "organization"))
    back = _back(viewer, organization)
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    files = [item for item in form.getlist(FIELD) if isinstance(item, UploadFile) and item.filename]
    if not files:
        return await flash_and_redirect(request, back, "error", "Choose an image file first.")
    services = services_of(request)
    added: list[str] = []
    refused: list[str] = []
    for upload_file in files:
        data = await upload_file.read(services.settings.image_max_bytes + 1)
        try:
            view, new = await actions.add_image(
                services,
                viewer.principal,
                data=data,
                name=upload_file.filename,
                organization=organization,
            )
        except ActionError as problem:
            reason = problem.detail.removeprefix("image: ")
            refused.append(f"{upload_file.filename}: {reason}")
            continue
        added.append(_described(view, new))
    if refused:
        text = "Not uploaded: " + "; ".join(refused)
        if added:
            text += ". Uploaded: " + "; ".join(added)
        return await flash_and_redirect(request, back, "error", sentence(text))
    return await flash_and_redirect(
        request, back, "success", sentence("Uploaded " + "; ".join(added))
    )


@router.post("/{image_id:int}/remove")
async def remove(request: Request, viewer: ViewerDep, image_id: int) -> Response:
    form = await checked_form(request)
    back = _back(viewer, optional_text(text_of(form, "organization")))
    if not viewer.can_change:
        return await flash_and_redirect(request, back, "error", READ_ONLY)
    if not 1 <= image_id <= MAX_ID:
        raise NotFound(f"image {image_id} not found")
    view = await actions.remove_image(services_of(request), viewer.principal, image_id)
    return await flash_and_redirect(
        request, back, "success", f"{view.image.name} is removed; its URL no longer works."
    )
