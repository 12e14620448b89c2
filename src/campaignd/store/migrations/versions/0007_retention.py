"""counts kept when a finished campaign's per-recipient rows are pruned

Revision ID: 0007_retention
Revises: 0006_audience
Create Date: 2026-12-01 18:00:00

``campaigns.pruned_at`` says when the delivery rows of a finished campaign were deleted
(``campaignd prune``, or daily with ``CAMPAIGND_RETENTION_DAYS``); ``pruned_counts`` keeps
the counts per status they had, so the campaign still shows them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0007_retention"
down_revision = "0006_audience"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "pruned_at", campaignd.store.columns.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("pruned_counts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("pruned_counts")
        batch_op.drop_column("pruned_at")
