"""Local-time delivery and send windows: a due instant per delivery

Revision ID: 0012_local_time
Revises: 0011_feedback
Create Date: 2026-12-01 21:40:00

``campaigns.local_time`` (a wall-clock time, ``2026-12-10T09:00``, read in each recipient's
zone) and ``campaigns.send_window`` (hours and days of the recipient's week). Per delivery:
``due_at`` (never claimed before it), ``window_closes_at`` (never claimed at or after it) and
``timezone`` (the zone it was planned in). All NULL for campaigns sent at one instant, so
existing rows need no rewrite (plain ``ADD COLUMN``, no table copy on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0012_local_time"
down_revision = "0011_feedback"
branch_labels = None
depends_on = None

TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("local_time", sa.String(length=16), nullable=True))
    op.add_column("campaigns", sa.Column("send_window", sa.JSON(), nullable=True))
    op.add_column("deliveries", sa.Column("due_at", TIME, nullable=True))
    op.add_column("deliveries", sa.Column("window_closes_at", TIME, nullable=True))
    op.add_column("deliveries", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_deliveries_due", "deliveries", ["campaign_id", "status", "due_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("timezone")
        batch_op.drop_column("window_closes_at")
        batch_op.drop_column("due_at")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("send_window")
        batch_op.drop_column("local_time")
