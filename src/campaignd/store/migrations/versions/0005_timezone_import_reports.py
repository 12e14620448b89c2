"""the zone a campaign was scheduled in, and stored import reports

Revision ID: 0005_timezone_import_reports
Revises: 0004_waiting_deliveries_queued
Create Date: 2026-12-02 09:00:00

``campaigns.timezone`` keeps the IANA zone a campaign was scheduled in from the admin
form, so its time is shown (and offered for rescheduling) in that zone. The admin UI's
CSV import reports are stored in ``import_reports`` and shown by a page of their own
(Post/Redirect/Get: reloading the report imports nothing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0005_timezone_import_reports"
down_revision = "0004_waiting_deliveries_queued"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.create_table(
        "import_reports",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("campaign_id", IDENTIFIER, nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("invalid_count", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", campaignd.store.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_import_reports_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_reports")),
    )
    with op.batch_alter_table("import_reports", schema=None) as batch_op:
        batch_op.create_index("ix_import_reports_campaign", ["campaign_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_import_reports_campaign")
    op.drop_table("import_reports")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("timezone")
