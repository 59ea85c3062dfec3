"""The Alembic migrations build exactly the schema the code uses, and can be undone."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from mizual.kit.db.migrate import downgrade, upgrade
from mizual.kit.db.tables import metadata


def test_migrations_match_the_table_definitions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []

    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)  # and back again
    assert {"edits", "edit_feedback", "edit_chains"} <= set(inspect(engine).get_table_names())
    engine.dispose()
