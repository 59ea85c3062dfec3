"""The database engine: one per process, built from settings."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.pool import ConnectionPoolEntry

from mizual.settings import Settings

# A pooled connection unused for longer than this is checked with a round trip before it is
# handed out (the server may have restarted, a proxy may have dropped it meanwhile). One in
# steady use is not: pinging at every checkout added a round trip to every query.
PING_AFTER_IDLE_SECONDS = 10.0


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here, not the psycopg2 SQLAlchemy would pick."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def build_engine(settings: Settings) -> Engine:
    url = normalise_url(settings.resolved_database_url)
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=settings.max_workers + 8,
            max_overflow=8,
        )
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    if url.startswith("postgresql"):
        return _postgres_engine(url, settings)
    raise ValueError("DATABASE_URL must start with sqlite:// or postgresql://")


def _postgres_engine(url: str, settings: Settings) -> Engine:
    connect_args: dict[str, Any] = {
        # Every connection works in this environment's schema.
        "options": f"-c search_path={settings.database_schema}",
        # Notice a dead server or a dropped NAT entry instead of hanging on it.
        "keepalives": 1,
        "keepalives_idle": 600,
        "keepalives_interval": 30,
        "keepalives_count": 3,
        "connect_timeout": 10,
        "application_name": "mizual",
    }
    if settings.database_pgbouncer:
        # PgBouncer in transaction mode cannot keep server-side prepared statements.
        connect_args["prepare_threshold"] = None
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_recycle=1800,
    )
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


def _note_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as error:
        # The pool discards this connection and hands out a new one instead.
        raise exc.DisconnectionError(f"an idle pooled connection is gone: {error!r}") from error


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets pollers read while a worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
