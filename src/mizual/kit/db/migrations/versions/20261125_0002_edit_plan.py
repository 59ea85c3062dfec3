"""edits.edit_plan: how the offline editor read the prompt.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mizual.kit.db.tables import JsonColumn

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("edits", sa.Column("edit_plan", JsonColumn))


def downgrade() -> None:
    with op.batch_alter_table("edits") as batch:
        batch.drop_column("edit_plan")
