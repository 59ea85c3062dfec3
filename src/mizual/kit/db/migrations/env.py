"""Alembic environment: the engine comes from the caller (see mizual.kit.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from mizual.kit.db.tables import metadata

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations with `mizual migrate`, which supplies the database engine")

schema = context.config.attributes.get("schema")

with engine.begin() as connection:
    if connection.dialect.name == "postgresql" and schema:
        # The engine's search_path already names the schema; it only has to exist.
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.execute(text(f'SET LOCAL search_path TO "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table_schema=schema if connection.dialect.name == "postgresql" else None,
    )
    context.run_migrations()
