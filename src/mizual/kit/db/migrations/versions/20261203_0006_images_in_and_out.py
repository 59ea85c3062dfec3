"""Images in and out: output format, the stored result's description, images' removal.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mizual.kit.db.tables import JsonColumn, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("edits", sa.Column("output_format", sa.String(8)))
    op.add_column("edits", sa.Column("output_quality", sa.Integer))
    op.add_column("edits", sa.Column("result_info", JsonColumn))
    op.add_column("edits", sa.Column("images_removed_at", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("edits") as batch:
        batch.drop_column("images_removed_at")
        batch.drop_column("result_info")
        batch.drop_column("output_quality")
        batch.drop_column("output_format")
