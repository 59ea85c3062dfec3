"""Initial schema: edits, edit_feedback, edit_chains.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mizual.kit.db.tables import IpColumn, JsonColumn, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.Uuid, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("enhanced_prompt", sa.Text),
        sa.Column("original_image_url", sa.Text, nullable=False),
        sa.Column("edited_image_url", sa.Text),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("processing_stage", sa.String(50), server_default="pending"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("original_key", sa.Text, nullable=False),
        sa.Column("result_key", sa.Text),
        sa.Column("error_message", sa.Text),
        sa.Column("error_stage", sa.String(50)),
        sa.Column("prompt_note", sa.Text),
        sa.Column("stage_timings", JsonColumn, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_edits"),
        sa.UniqueConstraint("uuid", name="uq_edits_uuid"),
    )
    op.create_index("idx_edits_status", "edits", ["status"])
    op.create_index("idx_edits_created_at", "edits", ["created_at"])

    op.create_table(
        "edit_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("edit_uuid", sa.Uuid, nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("feedback_text", sa.Text),
        sa.Column("user_ip", IpColumn),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_edit_feedback"),
        sa.ForeignKeyConstraint(
            ["edit_uuid"],
            ["edits.uuid"],
            ondelete="CASCADE",
            name="fk_edit_feedback_edit_uuid_edits",
        ),
        sa.CheckConstraint("rating IN (0, 1)", name="ck_edit_feedback_rating_binary"),
    )
    op.create_index("idx_edit_feedback_unique", "edit_feedback", ["edit_uuid"], unique=True)
    op.create_index("idx_edit_feedback_rating", "edit_feedback", ["rating"])

    op.create_table(
        "edit_chains",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("edit_uuid", sa.Uuid, nullable=False),
        sa.Column("parent_edit_uuid", sa.Uuid),
        sa.Column("chain_position", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_edit_chains"),
        sa.ForeignKeyConstraint(
            ["edit_uuid"],
            ["edits.uuid"],
            ondelete="CASCADE",
            name="fk_edit_chains_edit_uuid_edits",
        ),
        sa.ForeignKeyConstraint(
            ["parent_edit_uuid"],
            ["edits.uuid"],
            ondelete="CASCADE",
            name="fk_edit_chains_parent_edit_uuid_edits",
        ),
    )
    op.create_index("idx_edit_chains_uuid", "edit_chains", ["edit_uuid"], unique=True)
    op.create_index("idx_edit_chains_parent", "edit_chains", ["parent_edit_uuid"])
    op.create_index("idx_edit_chains_position", "edit_chains", ["chain_position"])


def downgrade() -> None:
    op.drop_table("edit_chains")
    op.drop_table("edit_feedback")
    op.drop_table("edits")
