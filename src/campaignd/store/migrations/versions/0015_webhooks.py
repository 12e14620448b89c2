"""Webhook endpoints, the outbox of events and delivery attempts

Revision ID: 0015_webhooks
Revises: 0014_tracking
Create Date: 2026-12-01 22:00:00

``webhook_endpoints`` holds each endpoint with its signing secret sealed with the instance
secret ``webhooks``; ``webhook_messages`` is the outbox (one row per event and subscribed
endpoint, written with the change it reports); ``webhook_attempts`` every POST made.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaignd.store.columns

revision = "0015_webhooks"
down_revision = "0014_tracking"
branch_labels = None
depends_on = None

IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = campaignd.store.columns.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column(
            "description", sa.String(length=200), server_default=sa.text("''"), nullable=False
        ),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_at", TIME, nullable=True),
        sa.Column("failing_since", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_endpoints_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        "ix_webhook_endpoints_organization_id", "webhook_endpoints", ["organization_id"]
    )
    op.create_table(
        "webhook_messages",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", IDENTIFIER, nullable=False),
        sa.Column("organization_id", IDENTIFIER, nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", TIME, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_webhook_messages_status")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_messages_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_messages")),
        sa.UniqueConstraint(
            "endpoint_id", "message_id", name=op.f("uq_webhook_messages_endpoint_id_message_id")
        ),
    )
    op.create_index(
        "ix_webhook_messages_status_next_attempt_at",
        "webhook_messages",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("message_row_id", IDENTIFIER, nullable=False),
        sa.Column("endpoint_id", IDENTIFIER, nullable=False),
        sa.Column("attempted_at", TIME, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_row_id"],
            ["webhook_messages.id"],
            name=op.f("fk_webhook_attempts_message_row_id_webhook_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        "ix_webhook_attempts_endpoint_id_attempted_at",
        "webhook_attempts",
        ["endpoint_id", "attempted_at"],
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_messages")
    op.drop_table("webhook_endpoints")
