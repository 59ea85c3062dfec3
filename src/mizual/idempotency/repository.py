"""All SQL about idempotency keys: one row per (client address, route, key hash)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mizual.kit.db.tables import idempotency_keys
from mizual.kit.db.timing import OperationTimings, timed

IN_PROGRESS = "in_progress"
DONE = "done"


@dataclass(frozen=True)
class KeyRow:
    request_hash: str
    state: str
    claim: str
    status_code: int | None
    response: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class KeyId:
    """Which row: the client's address, the route and the hash of the key."""

    scope: str
    route: str
    key_hash: str


_table = idempotency_keys.c


def _is(key: KeyId) -> Any:
    return (
        (_table.scope == key.scope)
        & (_table.route == key.route)
        & (_table.key_hash == key.key_hash)
    )


class IdempotencyRepository:
    """Every statement is one round trip in autocommit: each is atomic by itself, and the unique
    index on (scope, route, key_hash) decides every race between requests and processes."""

    def __init__(self, engine: Engine, timings: OperationTimings) -> None:
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.timings = timings
        # INSERT ... ON CONFLICT DO NOTHING is spelt alike in both, but built per dialect.
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    @timed
    def insert_claim(self, key: KeyId, *, request_hash: str, claim: str, now: datetime) -> bool:
        """A new in-progress row; False when the key already has one (nothing is changed)."""
        query = (
            self._insert(idempotency_keys)
            .values(
                scope=key.scope,
                route=key.route,
                key_hash=key.key_hash,
                request_hash=request_hash,
                state=IN_PROGRESS,
                claim=claim,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["scope", "route", "key_hash"])
            .returning(_table.id)
        )
        with self.autocommit.connect() as conn:
            return conn.execute(query).first() is not None

    @timed
    def get(self, key: KeyId) -> KeyRow | None:
        query = select(
            _table.request_hash,
            _table.state,
            _table.claim,
            _table.status_code,
            _table.response,
            _table.created_at,
            _table.updated_at,
        ).where(_is(key))
        with self.autocommit.connect() as conn:
            row = conn.execute(query).first()
        return KeyRow(*row) if row else None

    @timed
    def take_over(
        self, key: KeyId, *, old_claim: str, request_hash: str, claim: str, now: datetime
    ) -> bool:
        """Claim a row found stale or expired, if it is still the one seen (`old_claim`)."""
        query = (
            update(idempotency_keys)
            .where(_is(key), _table.claim == old_claim)
            .values(
                request_hash=request_hash,
                state=IN_PROGRESS,
                claim=claim,
                status_code=None,
                response=None,
                created_at=now,
                updated_at=now,
            )
        )
        with self.autocommit.connect() as conn:
            return conn.execute(query).rowcount == 1

    @timed
    def complete(
        self, key: KeyId, *, claim: str, status_code: int, response: dict[str, Any], now: datetime
    ) -> bool:
        """Record the answer, if the row is still this claim's."""
        query = (
            update(idempotency_keys)
            .where(_is(key), _table.claim == claim, _table.state == IN_PROGRESS)
            .values(state=DONE, status_code=status_code, response=response, updated_at=now)
        )
        with self.autocommit.connect() as conn:
            return conn.execute(query).rowcount == 1

    @timed
    def release(self, key: KeyId, *, claim: str) -> None:
        """Delete the row, if it is still this claim's and unanswered."""
        query = delete(idempotency_keys).where(
            _is(key), _table.claim == claim, _table.state == IN_PROGRESS
        )
        with self.autocommit.connect() as conn:
            conn.execute(query)

    @timed
    def delete_older_than(self, cutoff: datetime) -> int:
        query = delete(idempotency_keys).where(_table.created_at < cutoff)
        with self.autocommit.connect() as conn:
            return int(conn.execute(query).rowcount)
