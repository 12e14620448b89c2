"""A delivery in a worker's hands: claimed under a lease and waiting for a sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    campaign_id: int
    email: str
    variables: dict[str, Any] | None
    attempts: int
