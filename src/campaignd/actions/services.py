"""The handles an action needs, passed in (never reached for as globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from campaignd.actions.campaign_counts import CampaignCounts
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
    counts: CampaignCounts = field(default_factory=CampaignCounts)
    """Delivery counts of large campaigns, kept between counts (pages and the API)."""
