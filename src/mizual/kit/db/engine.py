"""The database engine: one per process, built from settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from mizual.settings import Settings


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
    return create_engine(
        url,
        connect_args=connect_args,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets pollers read while a worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
