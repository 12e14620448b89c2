"""deliveries' due times indexed only where a delivery has one

Revision ID: 0022_partial_due_index
Revises: 0021_deliveries_campaign_key
Create Date: 2026-12-03 09:00:00

``ix_deliveries_due (campaign_id, status, due_at)`` held an entry for every delivery, though
only local-time, send-window and deferred deliveries have a due instant: every other
delivery's is NULL ("due now"). Every delivery stored (an import, a list's fan-out) and every
change of its status (claimed, sent) wrote an entry nobody reads. The index now holds only the
deliveries with a due instant; the look-ups that read it all ask for one (``due_at > now``,
``due_at <= now``, ``due_at IS NOT NULL``), which both databases know implies the index's
condition. Claims read ``ix_deliveries_queue`` as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_partial_due_index"
down_revision = "0021_deliveries_campaign_key"
branch_labels = None
depends_on = None

NAME = "ix_deliveries_due"
COLUMNS = ["campaign_id", "status", "due_at"]
HAS_ONE = "due_at IS NOT NULL"


def upgrade() -> None:
    op.drop_index(NAME, table_name="deliveries")
    op.create_index(
        NAME,
        "deliveries",
        COLUMNS,
        unique=False,
        sqlite_where=sa.text(HAS_ONE),
        postgresql_where=sa.text(HAS_ONE),
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="deliveries")
    op.create_index(NAME, "deliveries", COLUMNS, unique=False)
