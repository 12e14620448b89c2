"""the addresses of deliveries that went out, for engagement conditions

Revision ID: 0018_engagement_index
Revises: 0017_retention
Create Date: 2026-12-02 02:00:00

Segment filters may ask who was sent, opened or clicked a campaign: one probe per contact
of ``ix_deliveries_sent_email`` (the address of every delivery that went out). Partial, so
the fan-out, which adds deliveries ``queued``, never writes to it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_engagement_index"
down_revision = "0017_retention"
branch_labels = None
depends_on = None

WENT_OUT = "status IN ('bounced', 'complained', 'sent')"


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_sent_email",
        "deliveries",
        ["email"],
        unique=False,
        sqlite_where=sa.text(WENT_OUT),
        postgresql_where=sa.text(WENT_OUT),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_sent_email", table_name="deliveries")
