"""The handles an action needs, passed in (never reached for as globals)."""

from __future__ import annotations

from dataclasses import dataclass

from campaignd.scheduling.lock import LeaderLock
from campaignd.settings import Settings
from campaignd.store.database import Database
from campaignd.wakeups import Wakeups


@dataclass(frozen=True)
class Services:
    database: Database
    settings: Settings
    wakeups: Wakeups
    scheduler_lock: LeaderLock | None = None
    """The leader lock of this process's scheduler, when it runs one (``/readyz`` says
    whether it leads or waits)."""
