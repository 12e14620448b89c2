"""DKIM keys per organization, sending domain and selector

Revision ID: 0008_dkim_keys
Revises: 0007_retention
Create Date: 2026-12-02 17:00:00

``dkim_keys`` holds each key's public half (the DNS record's ``p=``) and its private half
sealed with the instance secret ``dkim``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0008_dkim_keys"
down_revision = "0007_retention"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dkim_keys",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("algorithm IN ('rsa', 'ed25519')", name=op.f("ck_dkim_keys_algorithm")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_dkim_keys_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dkim_keys")),
        sa.UniqueConstraint(
            "organization_id",
            "domain",
            "selector",
            name=op.f("uq_dkim_keys_organization_id_domain_selector"),
        ),
    )


def downgrade() -> None:
    op.drop_table("dkim_keys")
