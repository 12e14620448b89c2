"""Request and response bodies of lists, their members, and the public subscribe form."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from campaignd.api.models import EmailText, RequestModel, ResponseModel

VisibilityText = Literal["public", "private"]
OptInText = Literal["single", "double"]
ListName = str
"""A list's name: 1-100 characters, no control characters, '/' or ','; not 'form'."""


class ListCreate(RequestModel):
    name: ListName = Field(max_length=100)
    description: str | None = Field(None, max_length=2000)
    visibility: VisibilityText = "private"
    opt_in: OptInText = "double"
    organization: str | None = Field(None, max_length=63)


class ListEdit(RequestModel):
    name: ListName | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=2000)
    visibility: VisibilityText | None = None
    opt_in: OptInText | None = None
    organization: str | None = Field(None, max_length=63)


class MemberCounts(ResponseModel):
    unconfirmed: int
    confirmed: int
    unsubscribed: int


class AudienceList(ResponseModel):
    name: str
    organization: str
    description: str | None
    visibility: str
    opt_in: str
    members: MemberCounts
    created_at: datetime
    updated_at: datetime


class ListsPage(ResponseModel):
    lists: list[AudienceList]


class MembersAdd(RequestModel):
    emails: list[EmailText] = Field(min_length=1, max_length=100_000)
    status: Literal["confirmed", "unconfirmed"] = "confirmed"
    organization: str | None = Field(None, max_length=63)


class MembersRemove(RequestModel):
    emails: list[EmailText] = Field(min_length=1, max_length=100_000)
    organization: str | None = Field(None, max_length=63)


class MembersAdded(ResponseModel):
    organization: str
    list: str
    added: int
    updated: int
    unchanged: int
    kept_unsubscribed: int
    erased: int = 0
    """Addresses erased on request, left out."""
    """Addresses that had left the list themselves: they stay out (remove, then add, to
    override that)."""
    contacts_created: int


class MembersRemoved(ResponseModel):
    organization: str
    list: str
    removed: int
    unchanged: int


class ListMember(ResponseModel):
    email: str
    status: str
    contact_status: str
    confirmation_sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MemberPage(ResponseModel):
    members: list[ListMember]
    next_cursor: str | None


class FormSnippet(ResponseModel):
    organization: str
    lists: list[str]
    action: str
    html: str


class SubscribeRequest(RequestModel):
    """A JSON post to the public ``/subscribe/{organization}``."""

    email: str = Field(max_length=1000)
    lists: list[Annotated[str, Field(max_length=100)]] = Field(max_length=100)
    website: str = Field("", max_length=1000)
    """The honeypot: must stay empty."""


class SubscribeAnswer(ResponseModel):
    message: str
    lists: list[str]
