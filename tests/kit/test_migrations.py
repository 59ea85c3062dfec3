"""The Alembic migrations build exactly the schema the code uses, and can be undone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
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


def _migrate_command(tmp_path: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"ENVIRONMENT", "DATABASE_URL"}}
    done = subprocess.run(
        [sys.executable, "-m", "mizual", "migrate"],
        env={**clean, "DATA_DIR": str(tmp_path), **env},
        cwd=tmp_path,  # no .env file here
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_migrate_says_what_it_migrated(tmp_path: Path) -> None:
    # Without DATABASE_URL: the embedded database, with serve's (preview) profile.
    out = _migrate_command(tmp_path)
    assert "sqlite" in out
    assert str(tmp_path / "mizual.db") in out
    assert "ENVIRONMENT=preview" in out
    assert (tmp_path / "mizual.db").exists()


def test_migrate_creates_the_schema_on_postgresql(
    tmp_path: Path, postgres_url: str, postgres_schema: str
) -> None:
    out = _migrate_command(tmp_path, DATABASE_URL=postgres_url, DATABASE_SCHEMA=postgres_schema)
    assert f"schema {postgres_schema}" in out
    assert "ENVIRONMENT=production" in out  # like `mizual api` and `mizual worker`
    with psycopg.connect(postgres_url) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (postgres_schema,),
            )
        }
    assert {"edits", "edit_chains", "edit_feedback", "alembic_version"} <= tables
    # Running it again changes nothing and succeeds.
    assert "up to date" in _migrate_command(
        tmp_path, DATABASE_URL=postgres_url, DATABASE_SCHEMA=postgres_schema
    )
