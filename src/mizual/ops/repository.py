"""Catalog queries for the admin views."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from mizual.kit.db.tables import metadata


def ping(engine: Engine) -> None:
    """Raises when the database does not answer."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def describe_schema(engine: Engine) -> dict[str, Any]:
    inspector = inspect(engine)
    tables: dict[str, Any] = {}
    with engine.connect() as conn:
        for name in sorted(inspector.get_table_names()):
            table = metadata.tables.get(name)
            row_count = (
                conn.execute(select(func.count()).select_from(table)).scalar_one()
                if table is not None
                else None
            )
            tables[name] = {
                "row_count": row_count,
                "columns": [
                    {"name": c["name"], "type": str(c["type"]), "nullable": c["nullable"]}
                    for c in inspector.get_columns(name)
                ],
                "indexes": [
                    {"name": i["name"], "columns": i["column_names"], "unique": i["unique"]}
                    for i in inspector.get_indexes(name)
                ],
            }
        revision = None
        if "alembic_version" in tables:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"backend": engine.dialect.name, "migration_revision": revision, "tables": tables}


_SLOWEST_STATEMENTS = text(
    """
    SELECT left(query, 300) AS query, calls,
           round(mean_exec_time::numeric, 3) AS mean_ms,
           round(total_exec_time::numeric, 1) AS total_ms, rows
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY mean_exec_time DESC
    LIMIT 10
    """
)


def database_statistics(engine: Engine) -> dict[str, Any]:
    """What the database itself knows: PostgreSQL's statistics views, or SQLite's pragmas."""
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            return {
                "page_count": conn.execute(text("PRAGMA page_count")).scalar(),
                "page_size": conn.execute(text("PRAGMA page_size")).scalar(),
                "journal_mode": conn.execute(text("PRAGMA journal_mode")).scalar(),
            }
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        connections: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT coalesce(state, 'background'), count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() GROUP BY 1"
                )
            )
            .tuples()
            .all()
        )
        tables = [
            dict(row._mapping)
            for row in conn.execute(
                text(
                    "SELECT relname AS table, n_live_tup AS live_rows, n_dead_tup AS dead_rows, "
                    "seq_scan, coalesce(idx_scan, 0) AS idx_scan, "
                    "pg_total_relation_size(relid) AS total_bytes, "
                    "last_autovacuum, last_autoanalyze "
                    "FROM pg_stat_user_tables WHERE schemaname = :schema ORDER BY relname"
                ),
                {"schema": schema},
            )
        ]
        indexes = [
            dict(row._mapping)
            for row in conn.execute(
                text(
                    "SELECT relname AS table, indexrelname AS index, idx_scan AS scans, "
                    "idx_tup_read AS tuples_read, pg_relation_size(indexrelid) AS bytes "
                    "FROM pg_stat_user_indexes WHERE schemaname = :schema "
                    "ORDER BY relname, indexrelname"
                ),
                {"schema": schema},
            )
        ]
    return {
        "schema": schema,
        "connections_by_state": connections,
        "tables": tables,
        "index_usage": indexes,
        **_slowest_statements(engine),
        "recommendations": _recommendations(tables, indexes),
    }


def _slowest_statements(engine: Engine) -> dict[str, Any]:
    try:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(_SLOWEST_STATEMENTS)]
    except DBAPIError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        return {
            "slowest_statements": None,
            "slowest_statements_note": (
                "pg_stat_statements is not available: add it to shared_preload_libraries and "
                f"run CREATE EXTENSION pg_stat_statements ({reason})"
            ),
        }
    return {"slowest_statements": rows}


def _recommendations(tables: list[dict[str, Any]], indexes: list[dict[str, Any]]) -> list[str]:
    advice = []
    for table in tables:
        if table["live_rows"] > 10_000 and table["seq_scan"] > table["idx_scan"]:
            advice.append(
                f"{table['table']}: {table['seq_scan']} sequential scans against "
                f"{table['idx_scan']} index scans on {table['live_rows']} rows; look for a "
                "missing index"
            )
        if table["dead_rows"] > max(1000, table["live_rows"] // 5):
            advice.append(f"{table['table']}: {table['dead_rows']} dead rows; check autovacuum")
    unused = [index["index"] for index in indexes if index["scans"] == 0]
    if unused:
        advice.append(f"indexes not used since statistics were reset: {', '.join(unused)}")
    return advice
