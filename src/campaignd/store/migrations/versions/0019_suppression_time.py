"""an organization's suppressions by reason and time, for a campaign's unsubscribe figure

Revision ID: 0019_suppression_time
Revises: 0018_engagement_index
Create Date: 2026-12-02 06:20:00

A campaign's figures count the recipients unsubscribed after their message went out. They
are read from the organization's unsubscribes since the campaign was created, each probed
on the campaign's deliveries, instead of a join of every sent delivery of the campaign
with the suppression list on every request.
"""

from __future__ import annotations

from alembic import op

revision = "0019_suppression_time"
down_revision = "0018_engagement_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_suppressions_reason_time",
        "suppressions",
        ["organization_id", "reason", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_suppressions_reason_time", table_name="suppressions")
