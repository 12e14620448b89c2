"""deferring recipients a frequency rule caps

Revision ID: 0016_deferral
Revises: 0015_webhooks
Create Date: 2026-12-02 02:00:00

``campaigns.capped_recipients``: ``skip`` (every existing campaign, as before) or ``defer``;
``campaigns.defer_until``: the deadline of a ``defer`` campaign's deferrals.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0016_deferral"
down_revision = "0015_webhooks"
branch_labels = None
depends_on = None

TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    # a plain ADD COLUMN, also on SQLite: rebuilding the table there would drop the rows
    # that reference it (ON DELETE CASCADE)
    op.add_column(
        "campaigns",
        sa.Column(
            "capped_recipients",
            sa.String(length=8),
            server_default=sa.text("'skip'"),
            nullable=False,
        ),
    )
    op.add_column("campaigns", sa.Column("defer_until", TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("defer_until")
        batch.drop_column("capped_recipients")
