"""click and open tracking

Revision ID: 0014_tracking
Revises: 0013_frequency_rules
Create Date: 2026-12-01 21:40:00

``campaigns.track_clicks`` and ``track_opens`` (existing campaigns: both off, so nothing
already written changes how it is sent; new campaigns track clicks unless told not to);
``campaign_links`` numbers a campaign's tracked links; ``tracking_events`` records opens
and clicks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0014_tracking"
down_revision = "0013_frequency_rules"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    # a plain ADD COLUMN, also on SQLite: rebuilding the table there would drop the rows
    # that reference it (ON DELETE CASCADE)
    for name in ("track_clicks", "track_opens"):
        op.add_column(
            "campaigns",
            sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False),
        )
    op.create_table(
        "campaign_links",
        sa.Column("campaign_id", IDENTIFIER, nullable=False),
        sa.Column("link_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_links_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "link_index", name=op.f("pk_campaign_links")),
    )
    op.create_table(
        "tracking_events",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("campaign_id", IDENTIFIER, nullable=False),
        sa.Column("delivery_id", IDENTIFIER, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("link_index", sa.Integer(), nullable=True),
        sa.Column("machine", sa.String(length=16), nullable=True),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.CheckConstraint("kind IN ('open', 'click')", name=op.f("ck_tracking_events_kind")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_tracking_events_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
    )
    op.create_index(
        "ix_tracking_events_campaign",
        "tracking_events",
        ["campaign_id", "delivery_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tracking_events_campaign", table_name="tracking_events")
    op.drop_table("tracking_events")
    op.drop_table("campaign_links")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("track_opens")
        batch_op.drop_column("track_clicks")
