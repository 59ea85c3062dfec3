"""Catalog queries for the admin views."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, inspect, select, text

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
