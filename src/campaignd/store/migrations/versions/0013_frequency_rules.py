"""Frequency rules per organization and category; one ledger entry per message

Revision ID: 0013_frequency_rules
Revises: 0012_local_time
Create Date: 2026-12-01 21:45:00

``frequency_rules`` holds an organization's rules (``category`` '') and those of its
categories; ``campaigns.category`` names a campaign's category. ``ledger_entries`` holds one
row per message reserved or sent (the rules count them); it starts with every entry of
``cooldown_ledger`` (the current one and the one it replaced), which keeps its meaning: the
latest message without a category per address and scope.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0013_frequency_rules"
down_revision = "0012_local_time"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "frequency_rules",
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("category", sa.String(length=63), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_frequency_rules_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "category", name=op.f("pk_frequency_rules")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("scope", IDENTIFIER, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("campaign_id", IDENTIFIER, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=True),
        sa.Column("category", sa.String(length=63), nullable=True),
        sa.Column("campaign_name", sa.String(length=200), nullable=True),
        sa.Column("contacted_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("scope", "email", "campaign_id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("category", sa.String(length=63), nullable=True))
    op.execute(
        """
        INSERT INTO ledger_entries
            (scope, email, campaign_id, organization_id, category, campaign_name, contacted_at)
        SELECT l.scope, l.email, COALESCE(l.campaign_id, 0), c.organization_id, NULL,
               l.campaign_name, l.contacted_at
        FROM cooldown_ledger l LEFT JOIN campaigns c ON c.id = l.campaign_id
        """
    )
    op.execute(
        """
        INSERT INTO ledger_entries
            (scope, email, campaign_id, organization_id, category, campaign_name, contacted_at)
        SELECT l.scope, l.email, COALESCE(l.previous_campaign_id, 0), c.organization_id, NULL,
               l.previous_campaign_name, l.previous_contacted_at
        FROM cooldown_ledger l LEFT JOIN campaigns c ON c.id = l.previous_campaign_id
        WHERE l.previous_contacted_at IS NOT NULL
          AND COALESCE(l.previous_campaign_id, 0) <> COALESCE(l.campaign_id, 0)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("category")
    op.drop_table("ledger_entries")
    op.drop_table("frequency_rules")
