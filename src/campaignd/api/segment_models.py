"""Request and response bodies of segments (saved filters over contacts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from campaignd.api.models import RequestModel, ResponseModel

FILTER_EXAMPLE: dict[str, Any] = {
    "all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "country", "op": "in", "value": ["DE", "AT"]},
        {"attribute": "signed_up_at", "op": "after", "value": "now-30d"},
    ]
}
FILTER_DESCRIPTION = (
    'A filter in the JSON filter language: {"all": [...]}, {"any": [...]}, {"not": {...}}, '
    '{"attribute": NAME, "op": OP, "value": V}, {"field": "email"|"source"|"createdAt", '
    '"op": OP, "value": V} or {"list": NAME}; see docs/audience.md.'
)


def filter_field(default: Any) -> Any:
    return Field(default, description=FILTER_DESCRIPTION, examples=[FILTER_EXAMPLE])


class SegmentCreate(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    filter: dict[str, Any] = filter_field(...)
    organization: str | None = Field(None, max_length=63)


class SegmentEdit(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    filter: dict[str, Any] | None = filter_field(None)
    organization: str | None = Field(None, max_length=63)


class FilterCount(RequestModel):
    filter: dict[str, Any] = filter_field(...)
    organization: str | None = Field(None, max_length=63)


class Segment(ResponseModel):
    id: int
    organization: str
    name: str
    description: str | None
    filter: dict[str, Any]
    filter_text: str
    """The filter in words: ``plan = "pro" and country in ["DE", "AT"]``."""
    created_at: datetime
    updated_at: datetime


class SegmentPage(ResponseModel):
    segments: list[Segment]
    next_cursor: str | None


class SampleContact(ResponseModel):
    email: str
    attributes: dict[str, Any]


class SegmentCount(ResponseModel):
    """How many subscribed contacts the filter selects now, and the first few (address order)."""

    organization: str
    count: int
    sample: list[SampleContact]
