"""Scheduling: the leader lock and the scheduler loop (due campaigns, misfires, fan-out)."""

from campaignd.scheduling.lock import LeaderLock, LocalLock, RedisLock, create_lock
from campaignd.scheduling.scheduler import Scheduler, TickReport

__all__ = ["LeaderLock", "LocalLock", "RedisLock", "Scheduler", "TickReport", "create_lock"]
