"""when a live run's counts were last counted, and what that count cost

Revision ID: 0020_run_counted_at
Revises: 0019_time_indexes
Create Date: 2026-12-02 16:00:00

``runs.counted_at`` and ``runs.count_seconds``: the lease keepers of all instances take
turns refreshing a live run's counts (one count per period, not one per instance), and a
count that takes long is made less often (``store.run_counts``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0020_run_counted_at"
down_revision = "0019_time_indexes"
branch_labels = None
depends_on = None

TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    # nullable, no default: a plain ADD COLUMN on both databases, no table rewrite
    op.add_column("runs", sa.Column("counted_at", TIME, nullable=True))
    op.add_column("runs", sa.Column("count_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("count_seconds")
        batch_op.drop_column("counted_at")
