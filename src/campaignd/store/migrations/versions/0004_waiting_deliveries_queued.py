"""a delivery waiting to be sent is stored queued

Revision ID: 0004_waiting_deliveries_queued
Revises: 0003_admin_sessions
Create Date: 2026-12-01 15:00:00

One name for one thing: a delivery waiting to be sent is stored, named and shown
``queued`` (``campaignd.store.waiting``). Rows stored ``pending`` by the versions since
0002 are renamed; the workers keep claiming them.
"""

from __future__ import annotations

from alembic import op

revision = "0004_waiting_deliveries_queued"
down_revision = "0003_admin_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'queued' WHERE status = 'pending'")


def downgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'queued'")
