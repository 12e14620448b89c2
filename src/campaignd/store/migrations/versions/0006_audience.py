"""an audience beside per-campaign recipients: contacts, lists, segments

Revision ID: 0006_audience
Revises: 0005_timezone_import_reports
Create Date: 2026-12-01 17:30:00

The cooldown's ledger, so far named ``contacts``, becomes ``cooldown_ledger``: the name
``contacts`` now means an organization's audience. New tables: ``contacts`` (attributes and
status per address), ``lists`` and ``list_members``, ``segments`` (saved filters), the lists
and segments a campaign targets, and ``erased_addresses`` (keyed hashes of erased addresses).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import campaignd.store.columns

revision = "0006_audience"
down_revision = "0005_timezone_import_reports"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = campaignd.store.columns.UtcDateTime(timezone=True)
ATTRIBUTES = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _organization(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_organization_id_organizations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.rename_table("contacts", "cooldown_ledger")
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE cooldown_ledger RENAME CONSTRAINT pk_contacts TO pk_cooldown_ledger"
        )
    op.create_table(
        "contacts",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("attributes", ATTRIBUTES, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.CheckConstraint(
            "status IN ('subscribed', 'unsubscribed', 'bounced', 'complained', 'blocklisted')",
            name=op.f("ck_contacts_status"),
        ),
        _organization("contacts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint(
            "organization_id", "email", name=op.f("uq_contacts_organization_id_email")
        ),
    )
    op.create_table(
        "lists",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=8), nullable=False),
        sa.Column("opt_in", sa.String(length=8), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.CheckConstraint("visibility IN ('public', 'private')", name=op.f("ck_lists_visibility")),
        sa.CheckConstraint("opt_in IN ('single', 'double')", name=op.f("ck_lists_opt_in")),
        _organization("lists"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_lists_organization_id_name")),
    )
    op.create_table(
        "list_members",
        sa.Column("list_id", IDENTIFIER, nullable=False),
        sa.Column("contact_id", IDENTIFIER, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("confirmation_sent_at", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.CheckConstraint(
            "status IN ('unconfirmed', 'confirmed', 'unsubscribed')",
            name=op.f("ck_list_members_status"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_list_members_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["lists.id"],
            name=op.f("fk_list_members_list_id_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "contact_id", name=op.f("pk_list_members")),
    )
    op.create_index("ix_list_members_contact", "list_members", ["contact_id"], unique=False)
    op.create_table(
        "segments",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        _organization("segments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_segments_organization_id_name")
        ),
    )
    op.create_table(
        "campaign_lists",
        sa.Column("campaign_id", IDENTIFIER, nullable=False),
        sa.Column("list_id", IDENTIFIER, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_lists_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["lists.id"],
            name=op.f("fk_campaign_lists_list_id_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "list_id", name=op.f("pk_campaign_lists")),
    )
    op.create_index("ix_campaign_lists_list", "campaign_lists", ["list_id"], unique=False)
    op.create_table(
        "campaign_segments",
        sa.Column("campaign_id", IDENTIFIER, nullable=False),
        sa.Column("segment_id", IDENTIFIER, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_segments_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_campaign_segments_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "segment_id", name=op.f("pk_campaign_segments")),
    )
    op.create_index(
        "ix_campaign_segments_segment", "campaign_segments", ["segment_id"], unique=False
    )
    op.create_table(
        "erased_addresses",
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", TIME, nullable=False),
        _organization("erased_addresses"),
        sa.PrimaryKeyConstraint(
            "organization_id", "address_hash", name=op.f("pk_erased_addresses")
        ),
    )


def downgrade() -> None:
    op.drop_table("erased_addresses")
    op.drop_index("ix_campaign_segments_segment", table_name="campaign_segments")
    op.drop_table("campaign_segments")
    op.drop_index("ix_campaign_lists_list", table_name="campaign_lists")
    op.drop_table("campaign_lists")
    op.drop_table("segments")
    op.drop_index("ix_list_members_contact", table_name="list_members")
    op.drop_table("list_members")
    op.drop_table("lists")
    op.drop_table("contacts")
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE cooldown_ledger RENAME CONSTRAINT pk_cooldown_ledger TO pk_contacts"
        )
    op.rename_table("cooldown_ledger", "contacts")
