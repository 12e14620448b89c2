"""admin sessions stored server-side

Revision ID: 0003_admin_sessions
Revises: 0002
Create Date: 2026-12-01 09:00:00

The admin UI's session cookie now carries only a random session id; the session itself
(its token, pending flash messages and expiry) lives in ``admin_sessions``, keyed by the
id's SHA-256 hash, so signing out ends it on the server.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0003_admin_sessions"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("flashes", sa.JSON(), nullable=True),
        sa.Column("created_at", campaignd.store.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", campaignd.store.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_admin_sessions_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_admin_sessions")),
    )
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_admin_sessions_token", ["token_id"], unique=False)
        batch_op.create_index("ix_admin_sessions_expires", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_admin_sessions_expires")
        batch_op.drop_index("ix_admin_sessions_token")
    op.drop_table("admin_sessions")
