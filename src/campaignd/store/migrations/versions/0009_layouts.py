"""layouts per organization; a campaign's body format and layout

Revision ID: 0009_layouts
Revises: 0008_dkim_keys
Create Date: 2026-12-02 21:30:00

``layouts`` holds each organization's layouts (at most one its default). ``campaigns``
gains ``body_format`` (``html`` or ``markdown``), ``layout`` (the name of its layout;
empty: none) and ``layout_html``/``layout_text``, the layout as it was when the campaign
started. Campaigns that exist keep their content as it is: HTML, no layout.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0009_layouts"
down_revision = "0008_dkim_keys"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "layouts",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_layouts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layouts")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_layouts_organization_id_name")
        ),
    )
    op.create_index(
        "uq_layouts_default",
        "layouts",
        ["organization_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    # plain ALTER TABLE ADD COLUMN: on SQLite a batch would copy the table, and dropping the
    # old one would take the deliveries with it (ON DELETE CASCADE)
    op.add_column(
        "campaigns",
        sa.Column(
            "body_format", sa.String(length=16), server_default=sa.text("'html'"), nullable=False
        ),
    )
    op.add_column("campaigns", sa.Column("layout", sa.String(length=100), nullable=True))
    op.add_column("campaigns", sa.Column("layout_html", sa.Text(), nullable=True))
    op.add_column("campaigns", sa.Column("layout_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("layout_text")
        batch_op.drop_column("layout_html")
        batch_op.drop_column("layout")
        batch_op.drop_column("body_format")
    with op.batch_alter_table("layouts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_layouts_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
    op.drop_table("layouts")
