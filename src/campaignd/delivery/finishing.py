"""A campaign whose every delivery is final becomes ``sent`` (or ``failed``)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd import metrics
from campaignd.delivery.builders import Builders
from campaignd.logs import log_event
from campaignd.store import runs

logger = logging.getLogger("campaignd.delivery")


async def finish_if_done(
    connection: AsyncConnection, campaign_id: int, *, now: datetime, builders: Builders
) -> None:
    campaign = await runs.finish_if_done(connection, campaign_id, now=now)
    if campaign is None:
        return
    builders.forget(campaign_id)
    metrics.runs_finished.labels(outcome=campaign["status"]).inc()
    run = await runs.runs_of_campaign(connection, campaign_id)
    latest = run[0] if run else {}
    log_event(
        logger,
        "campaign finished",
        campaign_id=campaign_id,
        run_id=latest.get("id"),
        status=campaign["status"],
        sent=latest.get("sent"),
        failed=latest.get("failed"),
        skipped=latest.get("skipped"),
    )
