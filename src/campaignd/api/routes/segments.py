"""Segments: saved filters over an organization's contacts, with a live count and a sample."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status

from campaignd.actions import segments as actions
from campaignd.actions.errors import Invalid
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.models import problem
from campaignd.api.routing import ApiRoute
from campaignd.api.segment_models import (
    FilterCount,
    SampleContact,
    Segment,
    SegmentCount,
    SegmentCreate,
    SegmentEdit,
    SegmentPage,
)
from campaignd.store import segments as store

router = APIRouter(tags=["segments"], route_class=ApiRoute)

Name = Annotated[
    str, Path(max_length=100, description="the segment's name", examples=["Pro in DACH"])
]
Organization = Annotated[
    str | None, Query(max_length=63, description="organization slug; required for platform admins")
]
Sample = Annotated[
    int, Query(ge=0, le=100, description="how many matching contacts to show (address order)")
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem("No segment of that name in the organization")
}
IN_USE: dict[int | str, dict[str, Any]] = {
    409: problem("A campaign that may still send targets the segment; nothing changed")
}
NAME_TAKEN: dict[int | str, dict[str, Any]] = {
    409: problem("The organization already has a segment of that name")
}


def segment(row: store.Segment) -> Segment:
    return Segment.model_validate(asdict(row) | {"filter_text": actions.filter_text(row.filter)})


def counted(count: actions.Count) -> SegmentCount:
    return SegmentCount(
        organization=count.organization,
        count=count.count,
        sample=[SampleContact.model_validate(asdict(contact)) for contact in count.sample],
    )


@router.post("/segments", status_code=status.HTTP_201_CREATED, responses=NAME_TAKEN)
async def create_segment(
    body: Annotated[SegmentCreate, Body()], services: ServicesDep, principal: PrincipalDep
) -> Segment:
    """Save a filter under a name; every list it names must be the organization's."""
    created = await actions.create_segment(
        services,
        principal,
        name=body.name,
        filter=body.filter,
        description=body.description,
        organization=body.organization,
    )
    return segment(created)


@router.get("/segments")
async def list_segments(
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=100, description="nextCursor of the previous page")
    ] = None,
) -> SegmentPage:
    """The organization's segments in name order, one page at a time (no counts: ask each)."""
    _, rows, next_cursor = await actions.list_segments(
        services, principal, organization=organization, cursor=cursor, limit=limit
    )
    return SegmentPage(segments=[segment(row) for row in rows], next_cursor=next_cursor)


@router.post("/segments/count")
async def count_filter(
    body: Annotated[FilterCount, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    sample: Sample = 10,
) -> SegmentCount:
    """Count an unsaved filter: how many subscribed contacts it selects now, and a sample."""
    return counted(
        await actions.count_filter(
            services, principal, body.filter, organization=body.organization, sample=sample
        )
    )


@router.get("/segments/{name}/count", responses=NOT_FOUND)
async def count_segment(
    name: Name,
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    sample: Sample = 10,
) -> SegmentCount:
    """The segment's live count: its subscribed contacts now, and a sample of them."""
    _, count = await actions.count_segment(
        services, principal, name, organization=organization, sample=sample
    )
    return counted(count)


@router.get("/segments/{name}", responses=NOT_FOUND)
async def get_segment(
    name: Name, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> Segment:
    """One segment with its filter (and the filter in words)."""
    return segment(await actions.get_segment(services, principal, name, organization=organization))


@router.patch("/segments/{name}", responses=NOT_FOUND | NAME_TAKEN)
async def edit_segment(
    name: Name,
    body: Annotated[SegmentEdit, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
) -> Segment:
    """Change the name, the description or the filter; only the fields sent change."""
    changes = body.model_dump(exclude_unset=True)
    changes.pop("organization", None)
    if not changes:
        raise Invalid("the body names no field to change")
    for field in ("name", "filter"):
        if field in changes and changes[field] is None:
            raise Invalid(f"{field}: cannot be null")
    edited = await actions.edit_segment(
        services, principal, name, changes, organization=body.organization or organization
    )
    return segment(edited)


@router.delete(
    "/segments/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND | IN_USE
)
async def delete_segment(
    name: Name, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> Response:
    """Delete a segment no campaign that may still send targets (409 names the campaigns)."""
    await actions.delete_segment(services, principal, name, organization=organization)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
