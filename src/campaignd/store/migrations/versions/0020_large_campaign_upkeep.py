"""when a live run's counts were last counted, and what that count cost; where a sending
campaign's unfinished deliveries start

Revision ID: 0020_large_campaign_upkeep
Revises: 0019_time_indexes
Create Date: 2026-12-02 16:00:00

``runs.counted_at`` and ``runs.count_seconds``: the lease keepers of all instances take
turns refreshing a live run's counts (one count per period, not one per instance), and a
count that takes long is made less often (``store.run_counts``).

``campaigns.unfinished_from_id``: every delivery of the campaign with a lower id is final,
so the scheduler's "anything left to send?" and a claim starting over begin there instead
of stepping over every delivery already sent (``store.unfinished``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0020_large_campaign_upkeep"
down_revision = "0019_time_indexes"
branch_labels = None
depends_on = None

TIME = campaignd.store.columns.UtcDateTime(timezone=True)
IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # nullable, no default: a plain ADD COLUMN on both databases, no table rewrite
    op.add_column("runs", sa.Column("counted_at", TIME, nullable=True))
    op.add_column("runs", sa.Column("count_seconds", sa.Float(), nullable=True))
    op.add_column("campaigns", sa.Column("unfinished_from_id", IDENTIFIER, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("unfinished_from_id")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("count_seconds")
        batch_op.drop_column("counted_at")
