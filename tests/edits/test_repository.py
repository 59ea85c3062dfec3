"""The edits repository on SQLite and PostgreSQL: what each write hands back, progress writes,
and pooled connections that the server dropped while they sat idle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from mizual.edits.repository import EditRepository
from mizual.kit.db import engine as engine_module
from mizual.kit.db.engine import build_engine
from mizual.kit.db.migrate import upgrade
from mizual.kit.db.timing import OperationTimings
from mizual.settings import load_settings


def _engine(tmp_path: Path, **database: str) -> Iterator[Engine]:
    settings = load_settings(data_dir=tmp_path, environment="preview", **database)
    built = build_engine(settings)
    upgrade(built, schema=settings.database_schema)
    yield built
    built.dispose()


@pytest.fixture
def repository(database_options: dict[str, str], tmp_path: Path) -> Iterator[EditRepository]:
    for built in _engine(tmp_path, **database_options):
        yield EditRepository(built, OperationTimings())


@pytest.fixture
def postgres_repository(
    tmp_path: Path, postgres_url: str, postgres_schema: str
) -> Iterator[EditRepository]:
    for built in _engine(
        tmp_path,
        database_url=postgres_url,
        database_schema=postgres_schema,
        database_pool_size="1",
    ):
        yield EditRepository(built, OperationTimings())


def _create(repository: EditRepository, *, parent: UUID | None = None, position: int = 1) -> UUID:
    edit_uuid = uuid.uuid4()
    repository.create(
        values={
            "uuid": edit_uuid,
            "prompt": "flip it",
            "original_key": f"originals/{edit_uuid}.jpg",
            "original_image_url": f"/images/originals/{edit_uuid}.jpg",
        },
        parent_edit_uuid=parent,
        chain_position=position,
    )
    return edit_uuid


def test_every_write_hands_back_the_edit_as_a_read_sees_it(repository: EditRepository) -> None:
    root = _create(repository)
    child_uuid = uuid.uuid4()
    created = repository.create(
        values={
            "uuid": child_uuid,
            "prompt": "now rotate it",
            "original_key": "results/x.jpg",
            "original_image_url": "/images/results/x.jpg",
        },
        parent_edit_uuid=root,
        chain_position=2,
    )
    assert created == repository.get(child_uuid)
    assert (created.chain_position, created.parent_edit_uuid) == (2, root)
    assert (created.status, created.processing_stage, created.attempts) == ("pending", "pending", 0)

    started = repository.start_attempt(child_uuid, lease_seconds=30)
    assert started == repository.get(child_uuid)
    assert started is not None
    assert (started.status, started.attempts) == ("processing", 1)

    progressed = repository.update(
        child_uuid, durable=False, processing_stage="ai_processing", stage_timings={"a": 1.5}
    )
    assert progressed == repository.get(child_uuid)
    assert progressed is not None
    assert progressed.stage_timings == {"a": 1.5}
    assert (progressed.chain_position, progressed.parent_edit_uuid) == (2, root)

    finished = repository.update(child_uuid, status="completed", processing_stage="completed")
    assert finished == repository.get(child_uuid)
    # A finished edit is not started again.
    assert repository.start_attempt(child_uuid, lease_seconds=30) is None
    assert repository.update(uuid.uuid4(), processing_stage="x") is None


def test_an_edit_is_created_with_its_chain_row_or_not_at_all(
    repository: EditRepository,
) -> None:
    unknown_parent = uuid.uuid4()
    edit_uuid = uuid.uuid4()
    with pytest.raises(IntegrityError):
        repository.create(
            values={
                "uuid": edit_uuid,
                "prompt": "flip it",
                "original_key": "results/x.jpg",
                "original_image_url": "/images/results/x.jpg",
            },
            parent_edit_uuid=unknown_parent,  # the chain row's foreign key refuses it
            chain_position=2,
        )
    assert repository.get(edit_uuid) is None
    assert repository.list_unfinished() == []


def test_a_chain_is_read_in_one_statement_along_the_newest_line(
    repository: EditRepository,
) -> None:
    root = _create(repository)
    middle = _create(repository, parent=root, position=2)
    older_branch = _create(repository, parent=middle, position=3)
    newer_branch = _create(repository, parent=middle, position=3)
    below_newer = _create(repository, parent=newer_branch, position=4)
    deleted = _create(repository, parent=newer_branch, position=4)  # newer, but deleted
    repository.update(deleted, status="deleted")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(repository.engine, "before_cursor_execute", count)
    try:
        from_root = [record.uuid for record in repository.chain(root)]
    finally:
        event.remove(repository.engine, "before_cursor_execute", count)

    newest_line = [root, middle, newer_branch, below_newer]
    assert from_root == newest_line
    assert len(statements) == 1, statements
    assert [record.uuid for record in repository.chain(below_newer)] == newest_line
    assert [record.uuid for record in repository.chain(older_branch)] == [
        root,
        middle,
        older_branch,
    ]
    lone = _create(repository)
    assert [record.uuid for record in repository.chain(lone)] == [lone]
    assert repository.chain(uuid.uuid4()) == []


def test_a_progress_write_leaves_the_connection_durable(
    postgres_repository: EditRepository,
) -> None:
    edit_uuid = _create(postgres_repository)
    with postgres_repository.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()

    postgres_repository.start_attempt(edit_uuid, lease_seconds=30)
    postgres_repository.update(edit_uuid, durable=False, processing_stage="ai_processing")

    # The pool holds one connection: the same session served the writes and answers here.
    with postgres_repository.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
        assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    record = postgres_repository.get(edit_uuid)
    assert record is not None
    assert record.processing_stage == "ai_processing"


def _terminate_pooled_connection(repository: EditRepository, postgres_url: str) -> None:
    with repository.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_dropped_while_idle_is_replaced_unnoticed(
    postgres_repository: EditRepository, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_uuid = _create(postgres_repository)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    _terminate_pooled_connection(postgres_repository, postgres_url)

    record = postgres_repository.get(edit_uuid)
    assert record is not None
    assert record.uuid == edit_uuid


def test_a_connection_in_steady_use_is_not_pinged(
    postgres_repository: EditRepository, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the trade: within the idle window a dropped connection fails once,
    and the pool then replaces it."""
    edit_uuid = _create(postgres_repository)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    _terminate_pooled_connection(postgres_repository, postgres_url)

    with pytest.raises(OperationalError):
        postgres_repository.get(edit_uuid)
    record = postgres_repository.get(edit_uuid)
    assert record is not None
    assert record.uuid == edit_uuid
