"""Images an organization uploads for its layouts and bodies

Revision ID: 0010_images
Revises: 0009_layouts
Create Date: 2026-12-03 09:00:00

``images`` describes each image; its bytes are a file under ``CAMPAIGND_IMAGES_DIR``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0010_images"
down_revision = "0009_layouts"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_images_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("organization_id", "hash", name=op.f("uq_images_organization_id_hash")),
    )


def downgrade() -> None:
    op.drop_table("images")
