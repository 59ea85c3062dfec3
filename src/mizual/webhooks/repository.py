"""All SQL about webhook deliveries: one row per message, claimed before each attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mizual.kit.db.tables import webhook_deliveries
from mizual.kit.db.timing import OperationTimings, timed

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

_table = webhook_deliveries.c


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    edit_uuid: UUID
    message_id: str
    event: str
    url: str
    body: str
    state: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_mapping(cls, mapping: Any) -> DeliveryRow:
        return cls(**{name: mapping[name] for name in cls.__dataclass_fields__})


class WebhookRepository:
    """Every statement is one autocommit round trip, atomic by itself: the unique message_id
    decides duplicate enqueues, and a conditional UPDATE decides which process sends."""

    def __init__(self, engine: Engine, timings: OperationTimings) -> None:
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.timings = timings
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    @timed
    def enqueue(
        self, *, edit_uuid: UUID, message_id: str, event: str, url: str, body: str, now: datetime
    ) -> bool:
        """A new message, due now; False (nothing changed) when the message already exists."""
        query = (
            self._insert(webhook_deliveries)
            .values(
                edit_uuid=edit_uuid,
                message_id=message_id,
                event=event,
                url=url,
                body=body,
                state=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["message_id"])
            .returning(_table.id)
        )
        with self.autocommit.connect() as conn:
            return conn.execute(query).first() is not None

    @timed
    def claim_next(
        self, edit_uuid: UUID, *, now: datetime, hold_until: datetime
    ) -> DeliveryRow | None:
        """The edit's earliest pending message if it is due, claimed until `hold_until`; None
        otherwise. Messages of an edit go one at a time, in order: a later one waits while an
        earlier one is pending. Two processes may run this at once: the UPDATE re-checks the
        due time on the row it changes, so only one of them gets the message."""
        earliest = (
            select(func.min(_table.id))
            .where((_table.edit_uuid == edit_uuid) & (_table.state == PENDING))
            .scalar_subquery()
        )
        query = (
            update(webhook_deliveries)
            .where(
                (_table.id == earliest)
                & (_table.state == PENDING)
                & (_table.next_attempt_at <= now)
            )
            .values(next_attempt_at=hold_until)
            .returning(*webhook_deliveries.c)
        )
        with self.autocommit.connect() as conn:
            row = conn.execute(query).first()
        return DeliveryRow.from_mapping(row._mapping) if row else None

    @timed
    def due_edits(self, *, now: datetime, limit: int) -> list[UUID]:
        """Edits with a pending message due (a retry, or the claim of a process that died)."""
        query = (
            select(_table.edit_uuid)
            .where((_table.state == PENDING) & (_table.next_attempt_at <= now))
            .group_by(_table.edit_uuid)
            .limit(limit)
        )
        with self.autocommit.connect() as conn:
            return list(conn.execute(query).scalars())

    @timed
    def record(
        self,
        delivery_id: int,
        *,
        state: str,
        attempts: int,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime,
        delivered_at: datetime | None,
    ) -> None:
        query = (
            update(webhook_deliveries)
            .where(_table.id == delivery_id)
            .values(
                state=state,
                attempts=attempts,
                last_status_code=status_code,
                last_error=error,
                next_attempt_at=next_attempt_at,
                delivered_at=delivered_at,
            )
        )
        with self.autocommit.connect() as conn:
            conn.execute(query)

    @timed
    def for_edit(self, edit_uuid: UUID) -> list[DeliveryRow]:
        query = select(webhook_deliveries).where(_table.edit_uuid == edit_uuid)
        with self.autocommit.connect() as conn:
            rows = conn.execute(query.order_by(_table.id)).all()
        return [DeliveryRow.from_mapping(row._mapping) for row in rows]
