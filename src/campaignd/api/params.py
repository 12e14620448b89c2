"""Path and query parameters shared by the API and the admin pages: ids and cursors.

An id is a positive 64-bit integer (what the database stores); anything else (0, negative,
beyond 2**63-1, not a number) never reaches the database: an id answers 404, a cursor 422.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**63 - 1

CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, description="The campaign's id", examples=[1])]
Cursor = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="nextCursor of the previous page"),
]
RecipientId = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="a delivery's id"),
]
