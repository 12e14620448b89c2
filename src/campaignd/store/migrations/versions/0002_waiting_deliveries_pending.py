"""waiting deliveries are stored pending

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:40:00

A delivery waiting in the queue of a fanned-out campaign is now stored ``pending`` and
shown as ``queued`` (``campaignd.store.waiting``); rows stored ``queued`` by earlier
versions are moved over, so the workers keep claiming them.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'queued'")


def downgrade() -> None:
    op.execute(
        "UPDATE deliveries SET status = 'queued' WHERE status = 'pending' AND campaign_id IN "
        "(SELECT id FROM campaigns WHERE fanned_out_at IS NOT NULL)"
    )
