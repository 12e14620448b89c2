"""A delivery in a worker's hands: claimed under a lease, its message rendered, waiting for
a sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from campaignd.delivery.messages import Message


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    campaign_id: int
    email: str
    variables: dict[str, Any] | None
    attempts: int
    message: Message | None = None
    problem: str | None = None  # why it cannot be rendered: the delivery fails with it
