"""Import reports of the admin UI: kept after an upload, shown on a page of their own.

The form that uploads a CSV answers with a redirect to its report (Post/Redirect/Get), so
reloading the report shows it again and imports nothing. Whoever may see the campaign may
see its reports; they go when the campaign is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaignd.actions.campaigns import ImportReport
from campaignd.actions.errors import NotFound
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.domain.recipients import InvalidRow
from campaignd.store import campaigns, import_reports
from campaignd.store.columns import utcnow

INVALID_ROWS_KEPT = 1000
"""Refused rows kept with a report (all of them are counted)."""


@dataclass(frozen=True)
class StoredReport:
    id: int
    campaign_id: int
    file_name: str | None
    added: int
    duplicates: int
    invalid: list[InvalidRow]
    """The first ``INVALID_ROWS_KEPT`` refused rows."""
    invalid_count: int
    created_by: str
    created_at: datetime


async def keep_report(
    services: Services,
    principal: Principal,
    campaign_id: int,
    report: ImportReport,
    file_name: str | None,
) -> int:
    """Store ``report`` of an upload to ``campaign_id``; returns its id."""
    principal.require_change()
    async with services.database.transaction() as connection:
        if (
            await campaigns.get_campaign(connection, campaign_id, organization_id=principal.scope)
            is None
        ):
            raise NotFound(f"campaign {campaign_id} not found")
        return await import_reports.save_report(
            connection,
            campaign_id=campaign_id,
            file_name=file_name[:255] if file_name else None,
            added=report.added,
            duplicates=report.duplicates,
            invalid=[vars(row) for row in report.invalid[:INVALID_ROWS_KEPT]],
            invalid_count=len(report.invalid),
            actor=principal.actor,
            now=utcnow(),
        )


async def stored_report(
    services: Services, principal: Principal, campaign_id: int, report_id: int
) -> StoredReport:
    async with services.database.connection() as connection:
        campaign = await campaigns.get_campaign(
            connection, campaign_id, organization_id=principal.scope
        )
        row = None
        if campaign is not None:
            row = await import_reports.get_report(connection, campaign_id, report_id)
    if row is None:
        raise NotFound(f"import report {report_id} of campaign {campaign_id} not found")
    return StoredReport(
        id=int(row["id"]),
        campaign_id=campaign_id,
        file_name=row["file_name"],
        added=int(row["added"]),
        duplicates=int(row["duplicates"]),
        invalid=[
            InvalidRow(int(item["row"]), str(item["email"]), str(item["reason"]))
            for item in row["invalid"] or []
        ],
        invalid_count=int(row["invalid_count"]),
        created_by=str(row["created_by"]),
        created_at=row["created_at"],
    )
