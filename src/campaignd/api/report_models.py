"""Bodies of the campaign report routes (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime

from campaignd.actions.campaign_report import Report, Summary
from campaignd.api.models import ResponseModel


class Outcomes(ResponseModel):
    sent: int
    delivered: int
    failed: int
    bounced: int
    complained: int
    unsubscribed: int


class Engagement(ResponseModel):
    unique_opens: int
    """Recipients a person opened the message of."""
    machine_opens: int
    """Recipients whose message only machines opened (privacy proxies, scanners)."""
    opens: int
    unique_clicks: int
    machine_clicks: int
    clicks: int
    open_rate: float | None
    click_through_rate: float | None
    click_to_open_rate: float | None


class LinkFigures(ResponseModel):
    index: int
    url: str
    clicks: int
    unique_clicks: int


class TimelinePoint(ResponseModel):
    hour: datetime
    opens: int
    clicks: int


class CampaignSummary(ResponseModel):
    campaign_id: int
    name: str
    status: str
    organization: str
    started_at: datetime | None
    track_clicks: bool
    track_opens: bool
    outcomes: Outcomes
    engagement: Engagement


class CampaignReport(CampaignSummary):
    links: list[LinkFigures]
    machine_reasons: dict[str, int]
    """Machine opens and clicks per reason: apple_privacy, scanner, prefetch."""
    timeline: list[TimelinePoint]


class CampaignComparison(ResponseModel):
    organization: str
    campaigns: list[CampaignSummary]


def summary_fields(summary: Summary) -> dict[str, object]:
    engagement = summary.engagement
    return {
        "campaign_id": summary.campaign_id,
        "name": summary.name,
        "status": summary.status,
        "organization": summary.organization,
        "started_at": summary.started_at,
        "track_clicks": summary.track_clicks,
        "track_opens": summary.track_opens,
        "outcomes": Outcomes.model_validate(vars(summary.outcomes)),
        "engagement": Engagement(
            unique_opens=engagement.unique_opens,
            machine_opens=engagement.machine_opens,
            opens=engagement.opens,
            unique_clicks=engagement.unique_clicks,
            machine_clicks=engagement.machine_clicks,
            clicks=engagement.clicks,
            open_rate=summary.open_rate,
            click_through_rate=summary.click_through_rate,
            click_to_open_rate=summary.click_to_open_rate,
        ),
    }


def report_model(report: Report) -> CampaignReport:
    return CampaignReport.model_validate(
        summary_fields(report)
        | {
            "links": [LinkFigures.model_validate(vars(link)) for link in report.links],
            "machine_reasons": report.machine_reasons,
            "timeline": [TimelinePoint.model_validate(vars(point)) for point in report.timeline],
        }
    )
