"""Table definitions shared by SQLite (embedded) and PostgreSQL (distributed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(
        self,
        value: Any,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


JsonColumn = JSON().with_variant(JSONB(), "postgresql")
IpColumn = String(45).with_variant(INET(), "postgresql")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

edits = Table(
    "edits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", Uuid, nullable=False, unique=True),
    Column("prompt", Text, nullable=False),
    Column("enhanced_prompt", Text),
    Column("original_image_url", Text, nullable=False),
    Column("edited_image_url", Text),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("processing_stage", String(50), server_default="pending"),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    # Ours: what the pipeline needs to resume, explain and time an edit.
    Column("original_key", Text, nullable=False),
    Column("result_key", Text),
    Column("error_message", Text),
    Column("error_stage", String(50)),
    Column("prompt_note", Text),
    Column("edit_plan", JsonColumn),  # the offline editor's reading of the prompt
    Column("stage_timings", JsonColumn, nullable=False, default=dict),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    # Work recovery (migration 0003): until when the worker running the edit holds it (renewed
    # while it runs), and when a job for it was last handed to the queue.
    Column("lease_expires_at", UTCDateTime),
    Column("dispatched_at", UTCDateTime),
    # Migration 0004: bumped by every change a client can see, so a cached status can tell an
    # older state from a newer one; and the editing provider's task of the edit (FLUX: its id
    # and polling URL), recorded before it is polled, so a resumed attempt polls that task
    # instead of paying for another.
    Column("version", Integer, nullable=False, server_default=text("0")),
    Column("provider_task", JsonColumn),
    # Migration 0005 (job control): the SHA-256 of the edit's token (the submitter's right to
    # cancel it), where and for which events to send webhooks, and how their delivery went.
    Column("edit_token_hash", String(64)),
    Column("webhook_url", Text),
    Column("webhook_events", JsonColumn),
    Column("webhook_delivery", JsonColumn),
    # Migration 0006 (images in and out): the result's format asked for (null: jpeg) and its
    # quality, what was stored ({format, width, height, bytes}), and when the edit's images were
    # removed (DELETE /edit/{uuid}, retention).
    Column("output_format", String(8)),
    Column("output_quality", Integer),
    Column("result_info", JsonColumn),
    Column("images_removed_at", UTCDateTime),
    Index("idx_edits_status", "status"),
    Index("idx_edits_created_at", "created_at"),
)

edit_feedback = Table(
    "edit_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "edit_uuid",
        Uuid,
        ForeignKey("edits.uuid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("rating", Integer, nullable=False),
    Column("feedback_text", Text),
    Column("user_ip", IpColumn),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    CheckConstraint("rating IN (0, 1)", name="rating_binary"),
    Index("idx_edit_feedback_unique", "edit_uuid", unique=True),
    Index("idx_edit_feedback_rating", "rating"),
)

edit_chains = Table(
    "edit_chains",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("edit_uuid", Uuid, ForeignKey("edits.uuid", ondelete="CASCADE"), nullable=False),
    Column("parent_edit_uuid", Uuid, ForeignKey("edits.uuid", ondelete="CASCADE")),
    Column("chain_position", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Index("idx_edit_chains_uuid", "edit_uuid", unique=True),
    Index("idx_edit_chains_parent", "parent_edit_uuid"),
    Index("idx_edit_chains_position", "chain_position"),
)

# Migration 0005: one row per webhook message (an event of an edit), its delivery retried until
# it is delivered or given up. `message_id` is the `webhook-id` header: stable across retries.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("edit_uuid", Uuid, ForeignKey("edits.uuid", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(100), nullable=False),
    Column("event", String(20), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(20), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    # When the next attempt is due; also a claim: a sender moves it forward before it sends.
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Index("idx_webhook_deliveries_message", "message_id", unique=True),
    Index("idx_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("idx_webhook_deliveries_edit", "edit_uuid"),
)

# Migration 0005: the Idempotency-Key of a submission (`POST /edit-image/`, `/feedback/`), per
# client address and route, with the answer it got, for 24 hours. Only hashes of the key and of
# the request are kept. `claim` names the request that holds the row: only it may complete or
# release it, so a request whose stale claim was taken over cannot overwrite its successor's.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(100), nullable=False),
    Column("route", String(50), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(20), nullable=False),
    Column("claim", String(32), nullable=False),
    Column("status_code", Integer),
    Column("response", JsonColumn),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    Index("idx_idempotency_keys_key", "scope", "route", "key_hash", unique=True),
    Index("idx_idempotency_keys_created_at", "created_at"),
)
