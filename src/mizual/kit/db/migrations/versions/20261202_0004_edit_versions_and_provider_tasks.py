"""edits.version and edits.provider_task: a status never goes backwards, a task is paid once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mizual.kit.db.tables import JsonColumn

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "edits", sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("0"))
    )
    op.add_column("edits", sa.Column("provider_task", JsonColumn))


def downgrade() -> None:
    with op.batch_alter_table("edits") as batch:
        batch.drop_column("provider_task")
        batch.drop_column("version")
