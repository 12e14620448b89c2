"""Bounces and complaints: events applied, counters per campaign, webhook replay tokens

Revision ID: 0011_feedback
Revises: 0010_images
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0011_feedback"
down_revision = "0010_images"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feedback_events",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("delivery_id", IDENTIFIER, nullable=True),
        sa.Column("campaign_id", IDENTIFIER, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint(
            "kind IN ('hard_bounce', 'soft_bounce', 'complaint')",
            name=op.f("ck_feedback_events_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_feedback_events_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_events")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_feedback_events_source_event_id")),
    )
    op.create_index(
        "ix_feedback_events_address",
        "feedback_events",
        ["organization_id", "email", "kind"],
        unique=False,
    )
    op.create_index("ix_feedback_events_delivery", "feedback_events", ["delivery_id"], unique=False)
    op.create_table(
        "campaign_feedback",
        sa.Column("campaign_id", IDENTIFIER, nullable=False),
        sa.Column("hard_bounces", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("soft_bounces", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("complaints", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_feedback_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_feedback")),
    )
    op.create_table(
        "webhook_replays",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=255), nullable=False),
        sa.Column("seen_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("provider", "token", name=op.f("pk_webhook_replays")),
    )


def downgrade() -> None:
    op.drop_table("webhook_replays")
    op.drop_table("campaign_feedback")
    op.drop_index("ix_feedback_events_delivery", table_name="feedback_events")
    op.drop_index("ix_feedback_events_address", table_name="feedback_events")
    op.drop_table("feedback_events")
