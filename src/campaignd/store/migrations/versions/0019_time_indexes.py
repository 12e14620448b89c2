"""suppressions by reason and time (a campaign's unsubscribe figure); replay tokens by time

Revision ID: 0019_time_indexes
Revises: 0018_engagement_index
Create Date: 2026-12-02 06:20:00

A campaign's figures count the recipients unsubscribed after their message went out. They
are read from the organization's unsubscribes since the campaign was created, each probed
on the campaign's deliveries, instead of a join of every sent delivery of the campaign
with the suppression list on every request.

Replay tokens of bounce webhooks older than twice ``WEBHOOK_MAX_AGE`` are forgotten as
new ones arrive (a request that old is refused by its timestamp): ``ix_webhook_replays_seen``
finds them without reading the others.
"""

from __future__ import annotations

from alembic import op

revision = "0019_time_indexes"
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
    op.create_index("ix_webhook_replays_seen", "webhook_replays", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_webhook_replays_seen", table_name="webhook_replays")
    op.drop_index("ix_suppressions_reason_time", table_name="suppressions")
