"""Alembic environment: the engine comes from the caller (see mizual.kit.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from mizual.kit.db.tables import metadata

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations with `mizual migrate`, which supplies the database engine")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
