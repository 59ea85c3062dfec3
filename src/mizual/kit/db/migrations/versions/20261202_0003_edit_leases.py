"""edits.lease_expires_at and edits.dispatched_at: the row, not the queue, says what must run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mizual.kit.db.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("edits", sa.Column("lease_expires_at", UTCDateTime))
    op.add_column("edits", sa.Column("dispatched_at", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("edits") as batch:
        batch.drop_column("dispatched_at")
        batch.drop_column("lease_expires_at")
