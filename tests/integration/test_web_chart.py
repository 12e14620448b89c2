"""Messages sent per hour: grouped in the database (SQLite and PostgreSQL), drawn as bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from campaignd.actions.campaign_report import TimelinePoint
from campaignd.store import organizations
from campaignd.store.charts import sent_per_hour
from campaignd.store.database import Database
from campaignd.store.schema import campaigns, deliveries
from campaignd.web.charts import hourly_chart
from campaignd.web.report_chart import PLOT_BOTTOM, timeline_chart

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_sent_per_hour_counts_sent_deliveries_by_utc_hour(database: Database) -> None:
    async with database.transaction() as connection:
        organization = await organizations.create_organization(connection, slug="acme", name="A")
        campaign_id = (
            await connection.execute(
                insert(campaigns)
                .values(
                    organization_id=organization["id"],
                    name="Chart",
                    subject="S",
                    text_body="T",
                    status="sending",
                    created_by="test",
                    created_at=START,
                    updated_at=START,
                )
                .returning(campaigns.c.id)
            )
        ).scalar_one()
        sent_at = [START + timedelta(minutes=minutes) for minutes in (0, 10, 59, 61, 185)]
        rows = [
            {
                "campaign_id": campaign_id,
                "email": f"p{index}@x.org",
                "status": "sent",
                "sent_at": at,
            }
            for index, at in enumerate(sent_at)
        ]
        rows.append(
            {"campaign_id": campaign_id, "email": "q@x.org", "status": "failed", "sent_at": None}
        )
        rows.append(
            {"campaign_id": campaign_id, "email": "r@x.org", "status": "queued", "sent_at": None}
        )
        await connection.execute(insert(deliveries), rows)
    async with database.connection() as connection:
        points = await sent_per_hour(connection, campaign_id)
    assert points == [
        (START, 3),
        (START + timedelta(hours=1), 1),
        (START + timedelta(hours=3), 1),
    ]


def test_the_chart_fills_quiet_hours_and_scales_to_a_round_number() -> None:
    chart = hourly_chart([(START, 3), (START + timedelta(hours=3), 7)])
    assert chart is not None
    assert [bar.count for bar in chart.bars] == [3, 0, 0, 7]
    assert [line.value for line in chart.grid] == [0, 5, 10]
    assert chart.total == 10 and chart.peak == 7
    assert chart.bars[3].height > chart.bars[0].height > chart.bars[1].height == 0
    assert hourly_chart([]) is None


def test_a_long_campaign_shows_its_last_72_hours() -> None:
    points = [(START + timedelta(hours=hour), 1) for hour in range(100)]
    chart = hourly_chart(points)
    assert chart is not None
    assert len(chart.bars) == 72 and chart.hours_left_out == 28
    assert chart.bars[0].hour == START + timedelta(hours=28)


def test_the_report_timeline_scales_opens_and_clicks_to_one_round_number() -> None:
    points = [
        TimelinePoint(hour=START + timedelta(hours=hour), opens=opens, clicks=clicks)
        for hour, (opens, clicks) in enumerate([(12, 3), (0, 0), (4, 9)])
    ]
    chart = timeline_chart(points)
    assert chart is not None
    assert [line.value for line in chart.grid] == [0, 10, 20]
    assert chart.grid[0].y == PLOT_BOTTOM and chart.grid[2].y < chart.grid[1].y < PLOT_BOTTOM
    assert (chart.opens, chart.clicks, chart.hours_per_period) == (16, 12, 1)
    first = chart.periods[0]
    assert first.opens_height == round(first.clicks_height * 4, 2)
    assert timeline_chart([TimelinePoint(hour=START, opens=0, clicks=0)]) is None
