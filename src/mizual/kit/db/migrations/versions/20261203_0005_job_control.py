"""Job control: edit tokens, webhooks and their deliveries, idempotency keys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mizual.kit.db.tables import JsonColumn, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("edits", sa.Column("edit_token_hash", sa.String(64)))
    op.add_column("edits", sa.Column("webhook_url", sa.Text))
    op.add_column("edits", sa.Column("webhook_events", JsonColumn))
    op.add_column("edits", sa.Column("webhook_delivery", JsonColumn))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "edit_uuid",
            sa.Uuid,
            sa.ForeignKey("edits.uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(100), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "idx_webhook_deliveries_message", "webhook_deliveries", ["message_id"], unique=True
    )
    op.create_index(
        "idx_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"]
    )
    op.create_index("idx_webhook_deliveries_edit", "webhook_deliveries", ["edit_uuid"])
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("route", sa.String(50), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("claim", sa.String(32), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response", JsonColumn),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "idx_idempotency_keys_key",
        "idempotency_keys",
        ["scope", "route", "key_hash"],
        unique=True,
    )
    op.create_index("idx_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("edits") as batch:
        batch.drop_column("webhook_delivery")
        batch.drop_column("webhook_events")
        batch.drop_column("webhook_url")
        batch.drop_column("edit_token_hash")
