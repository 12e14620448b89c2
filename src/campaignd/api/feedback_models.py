"""The API's shape of a campaign's figures."""

from __future__ import annotations

from campaignd.api.models import CampaignFeedback
from campaignd.domain.feedback import CampaignFigures


def feedback_body(figures: CampaignFigures) -> CampaignFeedback:
    return CampaignFeedback(
        sent=figures.sent,
        delivered=figures.delivered,
        hard_bounces=figures.hard_bounces,
        soft_bounces=figures.soft_bounces,
        complaints=figures.complaints,
        unsubscribed=figures.unsubscribed,
        hard_bounce_rate=round(figures.hard_bounce_rate, 6),
        soft_bounce_rate=round(figures.soft_bounce_rate, 6),
        complaint_rate=round(figures.complaint_rate, 6),
        unsubscribe_rate=round(figures.unsubscribe_rate, 6),
    )
