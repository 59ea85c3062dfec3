"""All SQL about edits and chains."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import CTE, Engine, Row, and_, func, insert, select, update

from mizual.edits.stages import EditStatus
from mizual.kit.db.tables import edit_chains, edits, utcnow
from mizual.kit.db.timing import OperationTimings, timed


@dataclass(frozen=True)
class EditRecord:
    id: int
    uuid: UUID
    prompt: str
    enhanced_prompt: str | None
    original_image_url: str
    edited_image_url: str | None
    status: str
    processing_stage: str | None
    created_at: datetime
    original_key: str
    result_key: str | None
    error_message: str | None
    error_stage: str | None
    prompt_note: str | None
    edit_plan: list[dict[str, Any]] | None
    stage_timings: dict[str, float]
    attempts: int
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    chain_position: int | None
    parent_edit_uuid: UUID | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> EditRecord:
        mapping = row._mapping
        return cls(**{field.name: mapping[field.name] for field in fields(cls)})


_SELECT_EDIT = select(
    edits, edit_chains.c.chain_position, edit_chains.c.parent_edit_uuid
).select_from(edits.outerjoin(edit_chains, edit_chains.c.edit_uuid == edits.c.uuid))


def _ancestors(edit_uuid: UUID) -> CTE:
    """A recursive query for the edit and its ancestors (edit_uuid, parent_edit_uuid)."""
    start = (
        select(edit_chains.c.edit_uuid, edit_chains.c.parent_edit_uuid)
        .where(edit_chains.c.edit_uuid == edit_uuid)
        .cte("ancestors", recursive=True)
    )
    return start.union_all(
        select(edit_chains.c.edit_uuid, edit_chains.c.parent_edit_uuid).join(
            start, edit_chains.c.edit_uuid == start.c.parent_edit_uuid
        )
    )


class EditRepository:
    def __init__(self, engine: Engine, timings: OperationTimings) -> None:
        self.engine = engine
        self.timings = timings

    @timed
    def create(
        self, *, values: dict[str, Any], parent_edit_uuid: UUID | None, chain_position: int
    ) -> None:
        """Insert the edit and its chain row in one transaction."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                insert(edits).values(
                    **values,
                    status=EditStatus.PENDING,
                    processing_stage="pending",
                    created_at=now,
                    updated_at=now,
                    stage_timings={},
                )
            )
            conn.execute(
                insert(edit_chains).values(
                    edit_uuid=values["uuid"],
                    parent_edit_uuid=parent_edit_uuid,
                    chain_position=chain_position,
                    created_at=now,
                )
            )

    @timed
    def get(self, edit_uuid: UUID) -> EditRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(_SELECT_EDIT.where(edits.c.uuid == edit_uuid)).first()
        return EditRecord.from_row(row) if row else None

    @timed
    def update(self, edit_uuid: UUID, **values: Any) -> EditRecord | None:
        with self.engine.begin() as conn:
            conn.execute(
                update(edits).where(edits.c.uuid == edit_uuid).values(**values, updated_at=utcnow())
            )
            row = conn.execute(_SELECT_EDIT.where(edits.c.uuid == edit_uuid)).first()
        return EditRecord.from_row(row) if row else None

    @timed
    def start_attempt(self, edit_uuid: UUID) -> EditRecord | None:
        """Mark an unfinished edit as processing and count the attempt; None if it is finished."""
        now = utcnow()
        unfinished = edits.c.status.in_([EditStatus.PENDING, EditStatus.PROCESSING])
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(edits)
                .where(and_(edits.c.uuid == edit_uuid, unfinished))
                .values(
                    status=EditStatus.PROCESSING,
                    attempts=edits.c.attempts + 1,
                    started_at=func.coalesce(edits.c.started_at, now),
                    updated_at=now,
                )
            ).rowcount
            if not changed:
                return None
            row = conn.execute(_SELECT_EDIT.where(edits.c.uuid == edit_uuid)).first()
        return EditRecord.from_row(row) if row else None

    @timed
    def fail_stuck(self, *, idle_since: datetime, message: str) -> list[UUID]:
        """Fail every edit still processing with no progress recorded since `idle_since`."""
        now = utcnow()
        query = (
            update(edits)
            .where(and_(edits.c.status == EditStatus.PROCESSING, edits.c.updated_at < idle_since))
            .values(
                status=EditStatus.FAILED,
                error_stage=edits.c.processing_stage,
                processing_stage="failed",
                error_message=message,
                finished_at=now,
                updated_at=now,
            )
            .returning(edits.c.uuid)
        )
        with self.engine.begin() as conn:
            return list(conn.execute(query).scalars())

    @timed
    def list_unfinished(self) -> list[UUID]:
        query = (
            select(edits.c.uuid)
            .where(edits.c.status.in_([EditStatus.PENDING, EditStatus.PROCESSING]))
            .order_by(edits.c.created_at)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    @timed
    def get_many(self, edit_uuids: list[UUID]) -> list[EditRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(_SELECT_EDIT.where(edits.c.uuid.in_(edit_uuids))).all()
        return [EditRecord.from_row(row) for row in rows]

    @timed
    def lineage(self, edit_uuid: UUID) -> list[UUID]:
        """The edit and every ancestor up to its chain's root."""
        ancestors = _ancestors(edit_uuid)
        with self.engine.connect() as conn:
            return list(conn.execute(select(ancestors.c.edit_uuid)).scalars())

    @timed
    def chain(self, edit_uuid: UUID) -> list[EditRecord]:
        """The chain through this edit: its ancestors from the root, itself, and its descendants
        (following the newest child where a chain branches)."""
        ancestors = _ancestors(edit_uuid)
        with self.engine.connect() as conn:
            above = conn.execute(
                _SELECT_EDIT.where(edits.c.uuid.in_(select(ancestors.c.edit_uuid))).order_by(
                    edit_chains.c.chain_position
                )
            ).all()
            records = [EditRecord.from_row(row) for row in above]
            current = edit_uuid
            while True:
                child = conn.execute(
                    _SELECT_EDIT.where(edit_chains.c.parent_edit_uuid == current)
                    .order_by(edits.c.created_at.desc(), edits.c.id.desc())
                    .limit(1)
                ).first()
                if child is None:
                    return records
                records.append(EditRecord.from_row(child))
                current = records[-1].uuid

    @timed
    def count_by_status(self) -> dict[str, int]:
        query = select(edits.c.status, func.count()).group_by(edits.c.status)
        with self.engine.connect() as conn:
            return dict(conn.execute(query).tuples().all())

    @timed
    def recent_stage_timings(self, *, limit: int = 200) -> list[dict[str, float]]:
        query = (
            select(edits.c.stage_timings)
            .where(edits.c.status == EditStatus.COMPLETED)
            .order_by(edits.c.finished_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [timings or {} for timings in conn.execute(query).scalars()]
