"""report figures kept when a campaign is pruned; webhook attempts found by their message

Revision ID: 0017_retention
Revises: 0016_deferral
Create Date: 2026-12-02 02:00:00

``campaigns.pruned_report`` keeps a pruned campaign's report figures (its opens and clicks
go with its delivery rows); ``ix_webhook_attempts_message_row_id`` lets a prune delete the
attempts of the webhook messages it deletes without reading the whole table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_retention"
down_revision = "0016_deferral"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN, also on SQLite: rebuilding the table there would drop the rows
    # that reference it (ON DELETE CASCADE)
    op.add_column("campaigns", sa.Column("pruned_report", sa.JSON(), nullable=True))
    op.create_index("ix_webhook_attempts_message_row_id", "webhook_attempts", ["message_row_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_attempts_message_row_id", table_name="webhook_attempts")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("pruned_report")
