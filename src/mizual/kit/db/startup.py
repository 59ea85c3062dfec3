"""Waiting at start-up for the database and its schema, without importing Alembic (a `mizual
api` process would carry it for nothing: about 9 MB of its memory).

In a container stack nothing orders the start of the processes: the database may still be
starting when they do, and `mizual migrate` may be a one-shot container that runs beside them.
So `mizual migrate` waits for the database to answer, and the API and the workers wait until
the schema is at this release's version (or at a newer one: during a rolling update the new
release migrates while the old one still runs), each for at most STARTUP_WAIT_SECONDS.
"""

from __future__ import annotations

import ast
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Column, Engine, MetaData, String, Table, inspect, select

from mizual.kit.db.engine import build_engine
from mizual.kit.outages import Outage, describe, outage_of
from mizual.settings import Settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Alembic's own table of the revisions a database is at.
VERSION_TABLE = "alembic_version"

_POLL_SECONDS = 0.5
_T = TypeVar("_T")


class SchemaState(StrEnum):
    AT_HEAD = "at this release's version"
    BEHIND = "at an older version than this release's"
    AHEAD = "at a version this release does not know (a newer release migrated it)"
    EMPTY = "empty (never migrated)"


class DatabaseNotReady(Exception):
    """The database did not answer, or its schema did not reach this release's version, in
    time; the message says what to do."""


def code_revisions() -> tuple[set[str], set[str]]:
    """This release's head revisions, and every revision it knows, read from the migration
    files' `revision` and `down_revision` as Alembic reads them."""
    parents: dict[str, set[str]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        values = _assigned(path, {"revision", "down_revision"})
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            continue
        # None for the first revision; a tuple of revisions for a merge.
        merged = down if isinstance(down, tuple | list) else ()
        parents[revision] = {down} if isinstance(down, str) else {str(one) for one in merged}
    below = {parent for known in parents.values() for parent in known}
    return set(parents) - below, set(parents)


def _assigned(path: Path, names: set[str]) -> dict[str, object]:
    """The literal values a module assigns to `names` at its top level."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            found[target.id] = ast.literal_eval(value)
    return found


def schema_state(engine: Engine, *, schema: str | None) -> SchemaState:
    """Where the database's schema stands against this release's migrations. Raises what the
    driver raises when the database does not answer."""
    with engine.connect() as connection:
        on_postgres = connection.dialect.name == "postgresql"
        table_schema = schema if on_postgres else None
        if not inspect(connection).has_table(VERSION_TABLE, schema=table_schema):
            current: set[str] = set()
        else:
            table = Table(
                VERSION_TABLE, MetaData(), Column("version_num", String), schema=table_schema
            )
            current = set(connection.execute(select(table.c.version_num)).scalars())
    heads, known = code_revisions()
    if not current:
        return SchemaState.EMPTY
    if current == heads:
        return SchemaState.AT_HEAD
    if not current <= known:
        return SchemaState.AHEAD
    return SchemaState.BEHIND


def wait_for_database(settings: Settings, *, timeout: float, log_every: float = 5.0) -> None:
    """Until the database answers, for at most `timeout` seconds (each attempt may itself take
    the driver's connect timeout, 10 s for PostgreSQL); `DatabaseNotReady` after that."""
    engine = build_engine(settings)
    try:
        _wait(
            lambda: _ping(engine),
            done=lambda _: True,
            settings=settings,
            timeout=timeout,
            log_every=log_every,
        )
    finally:
        engine.dispose()


def wait_for_schema(settings: Settings, *, timeout: float, log_every: float = 5.0) -> SchemaState:
    """Until the database answers and its schema is at this release's version or a newer one,
    for at most `timeout` seconds; `DatabaseNotReady` after that, saying to run `mizual
    migrate`."""
    engine = build_engine(settings)
    try:
        return _wait(
            lambda: schema_state(engine, schema=settings.database_schema),
            done=lambda state: state in {SchemaState.AT_HEAD, SchemaState.AHEAD},
            settings=settings,
            timeout=timeout,
            log_every=log_every,
        )
    finally:
        engine.dispose()


def _ping(engine: Engine) -> None:
    with engine.connect():
        pass


def _wait(
    attempt: Callable[[], _T],
    *,
    done: Callable[[_T], bool],
    settings: Settings,
    timeout: float,
    log_every: float,
) -> _T:
    started = time.monotonic()
    deadline = started + timeout
    next_log = started + min(log_every, 1.0)  # a start that succeeds within a second is quiet
    where = _where(settings)
    while True:
        down: str | None = None
        state: object = None
        try:
            state = result = attempt()
        except Exception as exc:
            if outage_of(exc) is not Outage.DATABASE:
                raise
            down = describe(exc)
        else:
            if done(result):
                return result
        now = time.monotonic()
        if now >= deadline:
            raise DatabaseNotReady(_gave_up(where, down=down, state=state, timeout=timeout))
        if now >= next_log:
            waited = f"{now - started:.0f} s of {timeout:g} s"
            if down is not None:
                logger.info("waiting for the database to answer (%s; %s)", down, waited)
            else:
                logger.info("waiting for `mizual migrate`: %s is %s (%s)", where, state, waited)
            next_log = now + log_every
        time.sleep(min(_POLL_SECONDS, max(deadline - now, 0.0)))


def _where(settings: Settings) -> str:
    if settings.database_backend == "postgresql":
        return f"schema {settings.database_schema}"
    return "the SQLite database"


def _gave_up(where: str, *, down: str | None, state: object, timeout: float) -> str:
    if down is not None:
        return (
            f"the database did not answer within {timeout:g} s ({down}); check DATABASE_URL "
            "and that the database is running (STARTUP_WAIT_SECONDS sets how long to wait)"
        )
    return (
        f"{where} is {state} after {timeout:g} s of waiting: run `mizual migrate` (it creates "
        "or upgrades the schema), then start this again"
    )
