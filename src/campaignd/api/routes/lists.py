"""An organization's lists, their members, and the subscribe form to embed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response, status

from campaignd.actions import lists as actions
from campaignd.api.auth import PrincipalDep, ServicesDep
from campaignd.api.list_models import (
    AudienceList,
    FormSnippet,
    ListCreate,
    ListEdit,
    ListMember,
    ListsPage,
    MemberCounts,
    MemberPage,
    MembersAdd,
    MembersAdded,
    MembersRemove,
    MembersRemoved,
)
from campaignd.api.models import problem
from campaignd.api.routing import ApiRoute
from campaignd.domain.lists import split_names
from campaignd.store.lists import MailingList

router = APIRouter(tags=["lists"], route_class=ApiRoute)

Organization = Annotated[
    str | None, Query(description="organization slug; required for platform admins")
]
Name = Annotated[str, Path(max_length=100, description="the list's name")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem("No list of that name in the organization")
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: problem("A list of that name exists, or campaigns that may still send target it")
}


def _shown(slug: str, row: MailingList) -> AudienceList:
    return AudienceList(
        name=row.name,
        organization=slug,
        description=row.description,
        visibility=row.visibility,
        opt_in=row.opt_in,
        members=MemberCounts.model_validate(row.members),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("/lists")
async def list_lists(
    services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> ListsPage:
    """The organization's lists in name order, with how many members each has per status."""
    slug, rows = await actions.list_lists(services, principal, organization=organization)
    return ListsPage(lists=[_shown(slug, row) for row in rows])


@router.post("/lists", status_code=status.HTTP_201_CREATED, responses=CONFLICT)
async def create_list(
    body: Annotated[ListCreate, Body()], services: ServicesDep, principal: PrincipalDep
) -> AudienceList:
    """A new list: private and double opt-in unless said otherwise."""
    slug, row = await actions.create_list(
        services,
        principal,
        name=body.name,
        description=body.description,
        visibility=body.visibility,
        opt_in=body.opt_in,
        organization=body.organization,
    )
    return _shown(slug, row)


@router.get("/lists/form")
async def form_snippet(
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    lists: Annotated[
        str | None,
        Query(
            max_length=10_000, description="list names, comma-separated; default: every public list"
        ),
    ] = None,
) -> FormSnippet:
    """The HTML of a subscribe form to paste into a web page (public lists only)."""
    names = split_names(lists) if lists else None
    snippet = await actions.form_snippet(
        services, principal, lists=names, organization=organization
    )
    return FormSnippet(
        organization=snippet.organization,
        lists=snippet.lists,
        action=snippet.action,
        html=snippet.html,
    )


@router.get("/lists/{name}", responses=NOT_FOUND)
async def get_list(
    name: Name, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> AudienceList:
    slug, row = await actions.get_list(services, principal, name, organization=organization)
    return _shown(slug, row)


@router.patch("/lists/{name}", responses=NOT_FOUND | CONFLICT)
async def update_list(
    name: Name,
    body: Annotated[ListEdit, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> AudienceList:
    """Change the fields given: ``name``, ``description`` (null clears it), ``visibility``,
    ``optIn``."""
    changes = {
        field: getattr(body, field) for field in body.model_fields_set if field in actions.EDITABLE
    }
    for field in ("name", "visibility", "opt_in"):
        if field in changes and changes[field] is None:
            del changes[field]
    slug, row = await actions.update_list(
        services, principal, name, changes, organization=body.organization
    )
    return _shown(slug, row)


@router.delete(
    "/lists/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND | CONFLICT
)
async def delete_list(
    name: Name, services: ServicesDep, principal: PrincipalDep, organization: Organization = None
) -> Response:
    """Delete the list and its memberships (the contacts stay); 409 while a campaign that
    may still send (draft, scheduled, sending, paused, missed) targets it."""
    await actions.delete_list(services, principal, name, organization=organization)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/lists/{name}/members", responses=NOT_FOUND)
async def list_members(
    name: Name,
    services: ServicesDep,
    principal: PrincipalDep,
    organization: Organization = None,
    status: Literal["unconfirmed", "confirmed", "unsubscribed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=320, description="nextCursor of the previous page")
    ] = None,
) -> MemberPage:
    """The list's members in address order, one page at a time."""
    _, rows, next_cursor = await actions.list_members(
        services,
        principal,
        name,
        status=status,
        cursor=cursor,
        limit=limit,
        organization=organization,
    )
    return MemberPage(
        members=[
            ListMember(
                email=row.email,
                status=row.status,
                contact_status=row.contact_status,
                confirmation_sent_at=row.confirmation_sent_at,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )


@router.post("/lists/{name}/members", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
async def add_members(
    name: Name,
    body: Annotated[MembersAdd, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> MembersAdded:
    """Add addresses (contacts are created as needed). ``confirmed`` by default: the team
    vouches for them; ``unconfirmed`` only on a double opt-in list."""
    change = await actions.add_members(
        services,
        principal,
        name,
        body.emails,
        status=body.status,
        organization=body.organization,
    )
    return MembersAdded(
        organization=change.organization,
        list=change.list,
        added=change.added,
        updated=change.updated,
        unchanged=change.unchanged,
        kept_unsubscribed=change.kept_unsubscribed,
        contacts_created=change.contacts_created,
        erased=change.erased,
    )


@router.delete("/lists/{name}/members", responses=NOT_FOUND)
async def remove_members(
    name: Name,
    body: Annotated[MembersRemove, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> MembersRemoved:
    """Take addresses off the list (their contacts and other lists stay)."""
    change = await actions.remove_members(
        services, principal, name, body.emails, organization=body.organization
    )
    return MembersRemoved(
        organization=change.organization,
        list=change.list,
        removed=change.removed,
        unchanged=change.unchanged,
    )
