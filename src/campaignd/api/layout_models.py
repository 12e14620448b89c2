"""Request and response bodies of ``/layouts``."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from campaignd.api.models import RequestModel, ResponseModel

LAYOUT_CHARACTERS = 512 * 1024


class LayoutAdd(RequestModel):
    name: str = Field(max_length=100, description="letters, digits, dots, dashes, underscores")
    html: str = Field(
        max_length=LAYOUT_CHARACTERS, description="HTML with {{ content }} where the body goes"
    )
    text: str | None = Field(
        None,
        max_length=LAYOUT_CHARACTERS,
        description="the text part's layout, with {{ content }}; left out: made from the HTML",
    )
    default: bool = Field(False, description="make it the organization's default layout")
    organization: str | None = Field(None, max_length=63)


class LayoutEdit(RequestModel):
    html: str | None = Field(None, max_length=LAYOUT_CHARACTERS)
    text: str | None = Field(None, max_length=LAYOUT_CHARACTERS, description="null: remove it")
    default: bool | None = None


class Layout(ResponseModel):
    organization: str
    name: str
    html: str
    text: str | None
    default: bool
    created_at: datetime
    updated_at: datetime


class LayoutList(ResponseModel):
    organization: str
    layouts: list[Layout]


class LayoutPreview(ResponseModel):
    html: str
    text: str
