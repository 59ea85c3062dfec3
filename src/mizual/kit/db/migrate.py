"""Alembic, driven from code: `mizual migrate` and `mizual serve` call `upgrade`; `mizual api`
and `mizual worker` wait for it without Alembic (`kit/db/startup.py`).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from mizual.kit.db.engine import build_engine
from mizual.kit.db.startup import MIGRATIONS_DIR
from mizual.settings import Settings


def alembic_config(engine: Engine, *, schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    config.attributes["schema"] = schema
    return config


def upgrade(engine: Engine, revision: str = "head", *, schema: str | None = None) -> None:
    """Bring the database to `revision`; on PostgreSQL, in `schema` (created when missing)."""
    command.upgrade(alembic_config(engine, schema=schema), revision)


def downgrade(engine: Engine, revision: str, *, schema: str | None = None) -> None:
    command.downgrade(alembic_config(engine, schema=schema), revision)


def migrate_database(settings: Settings) -> None:
    """What `mizual migrate` (and `mizual serve` at start-up) runs."""
    engine = build_engine(settings)
    try:
        upgrade(engine, schema=settings.database_schema)
    finally:
        engine.dispose()
