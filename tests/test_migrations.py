"""The Alembic migrations build exactly the schema the code uses, and can be undone."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from mizual.kit.db.engine import build_engine
from mizual.kit.db.migrate import downgrade, upgrade
from mizual.kit.db.tables import metadata
from mizual.settings import load_settings


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_table_definitions(request, tmp_path, backend: str) -> None:  # type: ignore[no-untyped-def]
    database: dict[str, str] = {}
    if backend == "postgresql":
        database = {
            "database_url": request.getfixturevalue("postgres_url"),
            "database_schema": request.getfixturevalue("postgres_schema"),
        }
    settings = load_settings(data_dir=tmp_path, **database)
    schema = settings.database_schema
    engine = build_engine(settings)
    upgrade(engine, schema=schema)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []

    inspected_schema = schema if backend == "postgresql" else None
    tables = set(inspect(engine).get_table_names(schema=inspected_schema))
    assert {"edits", "edit_feedback", "edit_chains", "alembic_version"} <= tables
    if backend == "postgresql":
        assert "edits" not in inspect(engine).get_table_names(schema="public")

    downgrade(engine, "base", schema=schema)
    assert set(inspect(engine).get_table_names(schema=inspected_schema)) == {"alembic_version"}
    upgrade(engine, schema=schema)  # and back again
    assert "edits" in inspect(engine).get_table_names(schema=inspected_schema)
    engine.dispose()
