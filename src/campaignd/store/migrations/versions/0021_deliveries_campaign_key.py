"""deliveries.campaign_id without a declared foreign key

Revision ID: 0021_deliveries_campaign_key
Revises: 0020_large_campaign_upkeep
Create Date: 2026-12-03 00:40:00

The key checked every delivery row as it was stored: on PostgreSQL one look-up and lock of
the campaign row per recipient, about half of what the server did to import a million
recipients (docs/performance.md). The rule it kept holds without it: deliveries are only
added while their campaign row is locked by the same transaction (an import's
``add_recipients`` transition, the fan-out's, a copy into a campaign just created), and
deleting a campaign (a draft) deletes its deliveries in the same transaction
(``store.campaigns.delete_campaign``).

On SQLite the table is rebuilt (SQLite cannot drop a constraint in place): the upgrade
copies every delivery once.
"""

from __future__ import annotations

from alembic import op

revision = "0021_deliveries_campaign_key"
down_revision = "0020_large_campaign_upkeep"
branch_labels = None
depends_on = None

KEY = "fk_deliveries_campaign_id_campaigns"


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(KEY, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_foreign_key(KEY, "campaigns", ["campaign_id"], ["id"], ondelete="CASCADE")
