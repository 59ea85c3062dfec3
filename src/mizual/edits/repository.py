"""All SQL about edits and chains."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CTE,
    BindParameter,
    ColumnElement,
    Engine,
    Insert,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    tuple_,
    update,
)

from mizual.edits.stages import CANCELLED_STAGE, PIPELINE, EditStatus
from mizual.feedback.repository import erase_for_edit
from mizual.kit.db.tables import edit_chains, edits, utcnow, webhook_deliveries
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
    lease_expires_at: datetime | None
    dispatched_at: datetime | None
    version: int
    provider_task: dict[str, Any] | None
    edit_token_hash: str | None
    webhook_url: str | None
    webhook_events: list[str] | None
    webhook_delivery: dict[str, Any] | None
    output_format: str | None
    output_quality: int | None
    result_info: dict[str, Any] | None
    images_removed_at: datetime | None
    chain_position: int | None
    parent_edit_uuid: UUID | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> EditRecord:
        mapping = row._mapping
        return cls(**{field.name: mapping[field.name] for field in fields(cls)})


_SELECT_EDIT = select(
    edits, edit_chains.c.chain_position, edit_chains.c.parent_edit_uuid
).select_from(edits.outerjoin(edit_chains, edit_chains.c.edit_uuid == edits.c.uuid))
_GET_EDIT = _SELECT_EDIT.where(edits.c.uuid == bindparam("edit_uuid"))
_STATUS_OF = select(edits.c.status).where(edits.c.uuid == bindparam("edit_uuid"))
# An UPDATE's RETURNING may name only the changed table (SQLite), so the chain columns come from
# subqueries: the changed row, as `get` reads it, in the same single statement.
_RETURN_EDIT = (
    *edits.c,
    select(edit_chains.c.chain_position)
    .where(edit_chains.c.edit_uuid == edits.c.uuid)
    .scalar_subquery()
    .label("chain_position"),
    select(edit_chains.c.parent_edit_uuid)
    .where(edit_chains.c.edit_uuid == edits.c.uuid)
    .scalar_subquery()
    .label("parent_edit_uuid"),
)
# Evaluated inside the statement, so its implicit transaction commits without waiting for the WAL
# flush; `true` (local) leaves the session's setting as it was. One round trip, where BEGIN,
# SET LOCAL, the statement and COMMIT would be four.
_ASYNC_COMMIT = func.set_config("synchronous_commit", "off", True).label("async_commit")


# The chain's statements are built once, the edit a parameter (`edit_uuid`): building one per call
# cost more than PostgreSQL's answer (0.85 ms of Python for the ancestors' query alone).
_EDIT_UUID = bindparam("edit_uuid", type_=edit_chains.c.edit_uuid.type)


def _ancestors() -> CTE:
    """A recursive query for the edit and its ancestors (edit_uuid, parent_edit_uuid)."""
    start = (
        select(edit_chains.c.edit_uuid, edit_chains.c.parent_edit_uuid)
        .where(edit_chains.c.edit_uuid == _EDIT_UUID)
        .cte("ancestors", recursive=True)
    )
    return start.union_all(
        select(edit_chains.c.edit_uuid, edit_chains.c.parent_edit_uuid).join(
            start, edit_chains.c.edit_uuid == start.c.parent_edit_uuid
        )
    )


def _descendants() -> CTE:
    """A recursive query for the edit's descendants (edit_uuid, depth), children at depth 1."""
    start = (
        select(edit_chains.c.edit_uuid, literal(1).label("depth"))
        .where(edit_chains.c.parent_edit_uuid == _EDIT_UUID)
        .cte("descendants", recursive=True)
    )
    return start.union_all(
        select(edit_chains.c.edit_uuid, (start.c.depth + 1).label("depth")).join(
            start, edit_chains.c.parent_edit_uuid == start.c.edit_uuid
        )
    )


def _newest_line() -> CTE:
    """A recursive query for the line below the edit (edit_uuid, depth): the edit at depth 0,
    its newest child not deleted, that child's newest, and so on; the last row's edit_uuid is
    NULL (no child), which ends the walk. A correlated subquery, not LATERAL: SQLite has none."""
    start = select(_EDIT_UUID.label("edit_uuid"), literal(0).label("depth")).cte(
        "line", recursive=True
    )
    newest_child = (
        select(edit_chains.c.edit_uuid)
        .join(edits, edits.c.uuid == edit_chains.c.edit_uuid)
        .where(
            edit_chains.c.parent_edit_uuid == start.c.edit_uuid,
            edits.c.status != EditStatus.DELETED,
        )
        .order_by(edits.c.created_at.desc(), edits.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return start.union_all(
        select(newest_child.label("edit_uuid"), (start.c.depth + 1).label("depth")).where(
            start.c.edit_uuid.is_not(None)
        )
    )


_LINEAGE = select(_ancestors().c.edit_uuid)
# The edit's ancestors and its newest line below, in one statement whatever the chain's length.
# A child's position is its parent's plus one, so the line from the root down is the order of
# chain_position.
_CHAIN = _SELECT_EDIT.where(
    edits.c.uuid.in_(select(_ancestors().c.edit_uuid).union(select(_newest_line().c.edit_uuid)))
).order_by(edit_chains.c.chain_position)
_BELOW = _descendants()
_DESCENDANTS = (
    select(_BELOW.c.edit_uuid)
    .join(edits, edits.c.uuid == _BELOW.c.edit_uuid)
    .where(edits.c.status != EditStatus.DELETED)
    .order_by(_BELOW.c.depth.desc(), edits.c.id.desc())
)

_UNFINISHED = (
    select(edits.c.uuid)
    .where(edits.c.status.in_([EditStatus.PENDING, EditStatus.PROCESSING]))
    .order_by(edits.c.created_at)
)
_COUNT_BY_STATUS = select(edits.c.status, func.count()).group_by(edits.c.status)
_RECENT_STAGE_TIMINGS = (
    select(edits.c.stage_timings)
    .where(edits.c.status == EditStatus.COMPLETED)
    .order_by(edits.c.finished_at.desc())
    .limit(bindparam("limit"))
)


# The states whose images may be removed: finished, with images still there.
_HOLDS_IMAGES = (EditStatus.COMPLETED, EditStatus.FAILED, EditStatus.CANCELLED)
# A claimed expiry whose images are still not all removed this long after (its process died,
# a deletion failed) is claimed again by a later round.
EXPIRY_RETRY_SECONDS = 60


@dataclass(frozen=True)
class Orphan:
    uuid: UUID
    status: str
    processing_stage: str | None
    attempts: int


@functools.lru_cache(maxsize=256)
def _update_statement(columns: tuple[str, ...], *, fenced: bool, async_commit: bool) -> Update:
    """`update`'s statement for these columns, built once: a worker writes the same few shapes
    again and again, and building and keying a statement anew cost more than running it (0.87
    against 0.45 ms a write here)."""
    condition = edits.c.uuid == bindparam("edit_uuid")
    if fenced:  # the attempt number is the fencing token: only the running attempt may write
        condition = and_(
            condition,
            edits.c.status == EditStatus.PROCESSING,
            edits.c.attempts == bindparam("attempt"),
        )
    changes: dict[str, Any] = {name: bindparam(f"new_{name}") for name in columns}
    changes.update(updated_at=bindparam("new_updated_at"), version=edits.c.version + 1)
    query = update(edits).where(condition).values(changes).returning(*_RETURN_EDIT)
    return query.returning(_ASYNC_COMMIT) if async_commit else query


@functools.lru_cache(maxsize=16)
def _insert_edit(columns: tuple[str, ...]) -> Insert:
    """`create`'s insert of the edit for these columns, built once (as `_update_statement`)."""
    values: dict[str, Any] = {
        name: bindparam(f"new_{name}", type_=edits.c[name].type) for name in columns
    }
    values.update(
        status=EditStatus.PENDING,
        processing_stage="pending",
        created_at=bindparam("new_now", type_=edits.c.created_at.type),
        updated_at=bindparam("new_now", type_=edits.c.updated_at.type),
        # Set once the job is queued (`mark_dispatched`): an edit the API committed and then
        # died before queuing is dispatched by the reconciler within seconds, not after
        # REDISPATCH_AFTER_SECONDS.
        dispatched_at=None,
        stage_timings={},
    )
    return insert(edits).values(values).returning(*edits.c)


_CHAIN_ROW = {
    "edit_uuid": bindparam("new_uuid", type_=edit_chains.c.edit_uuid.type),
    "parent_edit_uuid": bindparam("parent_edit_uuid", type_=edit_chains.c.parent_edit_uuid.type),
    "chain_position": bindparam("chain_position", type_=edit_chains.c.chain_position.type),
    "created_at": bindparam("new_now", type_=edit_chains.c.created_at.type),
}
_INSERT_CHAIN_ROW = insert(edit_chains).values(_CHAIN_ROW)


@functools.lru_cache(maxsize=16)
def _create_statement(columns: tuple[str, ...]) -> Select[Any]:
    """`create` on PostgreSQL: the edit's insert and the chain row's in one statement. The
    chain row's foreign key is checked at the statement's end, when the edit's row is there."""
    created = _insert_edit(columns).cte("created")
    return select(created).add_cte(_INSERT_CHAIN_ROW.cte("linked"))


@functools.lru_cache(maxsize=4)
def _dispatched_statement(*, async_commit: bool) -> Update:
    """`mark_dispatched`'s statement, built once (as `_update_statement`'s are)."""
    query = (
        update(edits)
        .where(edits.c.uuid == bindparam("edit_uuid"))
        .values(dispatched_at=bindparam("now", type_=edits.c.dispatched_at.type))
    )
    return query.returning(_ASYNC_COMMIT) if async_commit else query


@functools.lru_cache(maxsize=4)
def _start_attempt_statement(*, async_commit: bool) -> Update:
    """`start_attempt`'s statement, built once: it runs at the start of every attempt, and
    building it cost more than running it (1.1 against 0.5 ms here)."""
    now = bindparam("now", type_=edits.c.updated_at.type)
    claimable = or_(
        edits.c.status == EditStatus.PENDING,
        and_(edits.c.status == EditStatus.PROCESSING, _lease_expired(now)),
    )
    query = (
        update(edits)
        .where(and_(edits.c.uuid == bindparam("edit_uuid"), claimable))
        .values(
            status=EditStatus.PROCESSING,
            # Every attempt begins with the first stage: its start is this write (one less).
            processing_stage=PIPELINE[0].value,
            attempts=edits.c.attempts + 1,
            lease_expires_at=bindparam("lease_expires_at", type_=edits.c.lease_expires_at.type),
            started_at=func.coalesce(edits.c.started_at, now),
            updated_at=now,
            version=edits.c.version + 1,
        )
        .returning(*_RETURN_EDIT)
    )
    return query.returning(_ASYNC_COMMIT) if async_commit else query


def _lease_expired(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    return or_(edits.c.lease_expires_at.is_(None), edits.c.lease_expires_at < now)


class EditRepository:
    """Writes of several statements are one transaction; everything else runs in autocommit
    mode: PostgreSQL makes one statement atomic by itself, and the BEGIN and COMMIT round trips
    would double the cost of a read or an update. (A read of several statements, `chain`, sees
    what is committed when each runs, as it would inside a READ COMMITTED transaction.)

    Writes are durable unless the caller marks them as progress (`durable=False`): PostgreSQL
    then acknowledges the commit before its WAL reaches the disk (about 2 ms less here). A
    database crash can lose the last fraction of a second of such writes, never data: an edit
    whose progress is lost is resumed from its last durable state, as after any crash.
    """

    def __init__(self, engine: Engine, timings: OperationTimings) -> None:
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.timings = timings
        self._is_postgres = engine.dialect.name == "postgresql"
        self._can_defer_flush = self._is_postgres

    def _progress(self, query: Update, *, durable: bool) -> Update:
        return query if durable or not self._can_defer_flush else query.returning(_ASYNC_COMMIT)

    @timed
    def create(
        self, *, values: dict[str, Any], parent_edit_uuid: UUID | None, chain_position: int
    ) -> EditRecord:
        """Insert the edit and its chain row, both or neither; the edit as stored. On
        PostgreSQL one statement (the chain row's insert a CTE of the edit's): one round trip
        instead of four (BEGIN, two inserts, COMMIT)."""
        now = utcnow()
        parameters = {f"new_{name}": value for name, value in values.items()}
        parameters.update(
            new_now=now, parent_edit_uuid=parent_edit_uuid, chain_position=chain_position
        )
        if self._is_postgres:
            with self.autocommit.connect() as conn:
                query = _create_statement(tuple(sorted(values)))
                row = conn.execute(query, parameters).one()
        else:  # SQLite has no INSERT inside a WITH
            with self.engine.begin() as conn:
                row = conn.execute(_insert_edit(tuple(sorted(values))), parameters).one()
                conn.execute(_INSERT_CHAIN_ROW, parameters)
        return EditRecord(
            **{name: row._mapping[name] for name in row._mapping},
            chain_position=chain_position,
            parent_edit_uuid=parent_edit_uuid,
        )

    @timed
    def mark_dispatched(self, edit_uuid: UUID) -> None:
        """A job for the edit is in the queue. Progress (see the class): should the database
        lose it, the reconciler dispatches the edit once more, which is harmless."""
        query = _dispatched_statement(async_commit=self._can_defer_flush)
        with self.autocommit.connect() as conn:
            conn.execute(query, {"edit_uuid": edit_uuid, "now": utcnow()})

    @timed
    def get(self, edit_uuid: UUID) -> EditRecord | None:
        with self.autocommit.connect() as conn:
            row = conn.execute(_GET_EDIT, {"edit_uuid": edit_uuid}).first()
        return EditRecord.from_row(row) if row else None

    @timed
    def update(
        self,
        edit_uuid: UUID,
        *,
        attempt: int | None = None,
        durable: bool = True,
        **values: Any,
    ) -> EditRecord | None:
        """The changed edit, or None when there is none, or when `attempt` is given and is no
        longer the edit's running attempt (another worker took it over: fenced)."""
        query = _update_statement(
            tuple(sorted(values)),
            fenced=attempt is not None,
            async_commit=not durable and self._can_defer_flush,
        )
        parameters = {f"new_{name}": value for name, value in values.items()}
        parameters.update(edit_uuid=edit_uuid, attempt=attempt, new_updated_at=utcnow())
        with self.autocommit.connect() as conn:
            row = conn.execute(query, parameters).first()
        return EditRecord.from_row(row) if row else None

    @timed
    def cancel(self, edit_uuid: UUID) -> EditRecord | None:
        """Mark the edit cancelled if it is still pending or processing; the cancelled edit, or
        None when it is unknown or already finished. A running attempt's next write then
        changes nothing (its fence requires `processing`), so it stops there."""
        now = utcnow()
        query = (
            update(edits)
            .where(
                and_(
                    edits.c.uuid == edit_uuid,
                    edits.c.status.in_([EditStatus.PENDING, EditStatus.PROCESSING]),
                )
            )
            .values(
                status=EditStatus.CANCELLED,
                processing_stage=CANCELLED_STAGE,
                finished_at=now,
                updated_at=now,
                lease_expires_at=None,
                version=edits.c.version + 1,
            )
            .returning(*_RETURN_EDIT)
        )
        with self.autocommit.connect() as conn:
            row = conn.execute(query).first()
        return EditRecord.from_row(row) if row else None

    @timed
    def status_of(self, edit_uuid: UUID) -> str | None:
        """The edit's status alone: what a running attempt asks to learn it was cancelled."""
        with self.autocommit.connect() as conn:
            return conn.execute(_STATUS_OF, {"edit_uuid": edit_uuid}).scalar_one_or_none()

    @timed
    def start_attempt(self, edit_uuid: UUID, *, lease_seconds: float) -> EditRecord | None:
        """Claim the edit for one more attempt, with a lease of `lease_seconds`: only if it is
        pending, or processing under a lease that has expired. None if it is finished, unknown,
        or held by a live attempt. Progress: not waited for on disk (see the class)."""
        now = utcnow()
        query = _start_attempt_statement(async_commit=self._can_defer_flush)
        values = {
            "edit_uuid": edit_uuid,
            "now": now,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
        }
        with self.autocommit.connect() as conn:
            row = conn.execute(query, values).first()
        return EditRecord.from_row(row) if row else None

    @timed
    def renew_leases(self, held: list[tuple[UUID, int]], *, lease_seconds: float) -> set[UUID]:
        """Extend the leases of these (edit, attempt) pairs; the edits whose attempt still runs
        them. Not a change a client sees, so `updated_at` stays."""
        query = (
            update(edits)
            .where(
                and_(
                    tuple_(edits.c.uuid, edits.c.attempts).in_(held),
                    edits.c.status == EditStatus.PROCESSING,
                )
            )
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .returning(edits.c.uuid)
        )
        with self.autocommit.connect() as conn:
            return set(conn.execute(query).scalars())

    @timed
    def release_leases(self) -> int:
        """Expire every lease (at the start of the one process that runs edits, embedded: the
        attempts that held them died with the previous run)."""
        query = (
            update(edits)
            .where(
                and_(edits.c.status == EditStatus.PROCESSING, edits.c.lease_expires_at.is_not(None))
            )
            .values(lease_expires_at=None)
        )
        with self.autocommit.connect() as conn:
            return conn.execute(query).rowcount

    @timed
    def claim_orphans(
        self, *, dispatched_before: datetime, undispatched_before: datetime, limit: int = 100
    ) -> list[Orphan]:
        """Edits that must run and, as far as the row tells, have no live job: pending, or
        processing under an expired lease, and either last dispatched before
        `dispatched_before` or never dispatched though created before `undispatched_before`.
        Their `dispatched_at` is set to now in the same statement, so each is handed out once
        per interval however many processes ask; on PostgreSQL rows another process is claiming
        are skipped (FOR UPDATE SKIP LOCKED), on SQLite the statement holds the write lock."""
        now = utcnow()
        never_dispatched = and_(
            edits.c.dispatched_at.is_(None), edits.c.created_at < undispatched_before
        )
        orphaned = and_(
            or_(never_dispatched, edits.c.dispatched_at < dispatched_before),
            or_(
                edits.c.status == EditStatus.PENDING,
                and_(edits.c.status == EditStatus.PROCESSING, _lease_expired(now)),
            ),
        )
        candidates = (
            select(edits.c.id)
            .where(orphaned)
            .order_by(edits.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        query = (
            update(edits)
            .where(edits.c.id.in_(candidates.scalar_subquery()))
            .values(dispatched_at=now)
            .returning(edits.c.uuid, edits.c.status, edits.c.processing_stage, edits.c.attempts)
        )
        with self.autocommit.connect() as conn:
            return [Orphan(*row) for row in conn.execute(query)]

    @timed
    def fail_stuck(self, *, idle_since: datetime, message: str) -> list[UUID]:
        """Fail every edit still processing with no progress recorded since `idle_since`."""
        now = utcnow()
        query = (
            update(edits)
            .where(
                and_(
                    edits.c.status == EditStatus.PROCESSING,
                    edits.c.updated_at < idle_since,
                    _lease_expired(now),
                )
            )
            .values(
                status=EditStatus.FAILED,
                error_stage=edits.c.processing_stage,
                processing_stage="failed",
                error_message=message,
                finished_at=now,
                updated_at=now,
                version=edits.c.version + 1,
            )
            .returning(edits.c.uuid)
        )
        with self.autocommit.connect() as conn:
            return list(conn.execute(query).scalars())

    @timed
    def list_unfinished(self) -> list[UUID]:
        with self.autocommit.connect() as conn:
            return list(conn.execute(_UNFINISHED).scalars())

    @timed
    def get_many(self, edit_uuids: list[UUID]) -> list[EditRecord]:
        with self.autocommit.connect() as conn:
            rows = conn.execute(_SELECT_EDIT.where(edits.c.uuid.in_(edit_uuids))).all()
        return [EditRecord.from_row(row) for row in rows]

    @timed
    def lineage(self, edit_uuid: UUID) -> list[UUID]:
        """The edit and every ancestor up to its chain's root."""
        with self.autocommit.connect() as conn:
            return list(conn.execute(_LINEAGE, {"edit_uuid": edit_uuid}).scalars())

    @timed
    def chain(self, edit_uuid: UUID) -> list[EditRecord]:
        """The chain through this edit: its ancestors from the root, itself, and its descendants
        (following the newest child where a chain branches)."""
        with self.autocommit.connect() as conn:
            rows = conn.execute(_CHAIN, {"edit_uuid": edit_uuid})
            return [EditRecord.from_row(row) for row in rows]

    @timed
    def count_by_status(self) -> dict[str, int]:
        with self.autocommit.connect() as conn:
            return dict(conn.execute(_COUNT_BY_STATUS).tuples().all())

    @timed
    def recent_stage_timings(self, *, limit: int = 200) -> list[dict[str, float]]:
        with self.autocommit.connect() as conn:
            rows = conn.execute(_RECENT_STAGE_TIMINGS, {"limit": limit}).scalars()
            return [timings or {} for timings in rows]

    # Deletion and retention ------------------------------------------------------------------

    @timed
    def descendants(self, edit_uuid: UUID) -> list[UUID]:
        """The edit's descendants not deleted yet, the deepest first (each before its parent)."""
        with self.autocommit.connect() as conn:
            rows = conn.execute(_DESCENDANTS, {"edit_uuid": edit_uuid})
            return list(dict.fromkeys(rows.scalars()))

    @timed
    def results_of_others(self, keys: list[str], *, besides: UUID) -> set[str]:
        """Those of `keys` that another edit holds as its result: a chained edit's original is
        its parent's result, which is the parent's to remove, not the child's."""
        if not keys:
            return set()
        query = select(edits.c.result_key).where(
            edits.c.result_key.in_(keys), edits.c.uuid != besides
        )
        with self.autocommit.connect() as conn:
            return {key for key in conn.execute(query).scalars() if key is not None}

    @timed
    def erase(self, edit_uuid: UUID) -> EditRecord | None:
        """Mark a finished edit deleted and erase its personal data (prompt, the enhanced
        prompt, the plan read from it, its webhook address), its feedback (text, the rater's
        network) and its webhook messages, in one transaction. None when the edit is unknown,
        unfinished, or deleted already: of two deletions at once, one erases."""
        now = utcnow()
        erasable = [*_HOLDS_IMAGES, EditStatus.EXPIRED]
        query = (
            update(edits)
            .where(and_(edits.c.uuid == edit_uuid, edits.c.status.in_(erasable)))
            .values(  # null(): SQL NULL in the JSON columns, not the JSON value null
                status=EditStatus.DELETED,
                processing_stage=EditStatus.DELETED.value,
                prompt="",
                enhanced_prompt=None,
                prompt_note=None,
                edit_plan=null(),
                error_message=None,
                edited_image_url=None,
                result_info=null(),
                provider_task=null(),
                webhook_url=None,
                webhook_events=null(),
                webhook_delivery=null(),
                lease_expires_at=None,
                images_removed_at=now,
                updated_at=now,
                version=edits.c.version + 1,
            )
            .returning(*_RETURN_EDIT)
        )
        with self.engine.begin() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            conn.execute(erase_for_edit(edit_uuid))
            conn.execute(
                delete(webhook_deliveries).where(webhook_deliveries.c.edit_uuid == edit_uuid)
            )
        return EditRecord.from_row(row)

    @timed
    def claim_expiring(
        self, *, created_before: datetime, message: str, limit: int = 100
    ) -> list[EditRecord]:
        """Mark `expired` the finished edits created before `created_before` (never one pending
        or processing), with `message`, and hand them out to have their images removed; also
        those claimed EXPIRY_RETRY_SECONDS ago whose images are not all removed yet. Each is
        handed out once per interval however many processes ask (FOR UPDATE SKIP LOCKED on
        PostgreSQL; on SQLite the statement holds the write lock)."""
        now = utcnow()
        due = or_(
            and_(edits.c.status.in_(_HOLDS_IMAGES), edits.c.created_at < created_before),
            and_(
                edits.c.status == EditStatus.EXPIRED,
                edits.c.images_removed_at.is_(None),
                edits.c.updated_at < now - timedelta(seconds=EXPIRY_RETRY_SECONDS),
            ),
        )
        candidates = (
            select(edits.c.id)
            .where(due)
            .order_by(edits.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        query = (
            update(edits)
            .where(and_(edits.c.id.in_(candidates.scalar_subquery()), due))
            .values(
                status=EditStatus.EXPIRED,
                processing_stage=EditStatus.EXPIRED.value,
                error_message=message,
                edited_image_url=None,
                lease_expires_at=None,
                updated_at=now,
                version=edits.c.version + 1,
            )
            .returning(*_RETURN_EDIT)
        )
        with self.autocommit.connect() as conn:
            return [EditRecord.from_row(row) for row in conn.execute(query)]

    @timed
    def mark_images_removed(self, edit_uuid: UUID) -> None:
        """Every image of the expired edit is gone: no later round takes it up again."""
        query = (
            update(edits)
            .where(and_(edits.c.uuid == edit_uuid, edits.c.images_removed_at.is_(None)))
            .values(images_removed_at=utcnow())
        )
        with self.autocommit.connect() as conn:
            conn.execute(query)

    @timed
    def count_expirable(self, *, created_before: datetime) -> tuple[int, int]:
        """(finished edits created before then, with images; unfinished ones, left alone)."""
        unfinished = [EditStatus.PENDING, EditStatus.PROCESSING]
        query = select(
            func.count().filter(edits.c.status.in_(_HOLDS_IMAGES)),
            func.count().filter(edits.c.status.in_(unfinished)),
        ).where(edits.c.created_at < created_before)
        with self.autocommit.connect() as conn:
            finished, in_flight = conn.execute(query).one()
        return int(finished or 0), int(in_flight or 0)
