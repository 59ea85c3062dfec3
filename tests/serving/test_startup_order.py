"""Start-up without an order between containers: `mizual migrate` waits for the database, and
`mizual api` and `mizual worker` for the schema `mizual migrate` brings to this release's
version (or a newer release's), each up to STARTUP_WAIT_SECONDS."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from mizual.kit.db.engine import build_engine
from mizual.kit.db.migrate import upgrade
from mizual.kit.db.startup import SchemaState, code_revisions, schema_state
from mizual.settings import Settings, load_settings
from tests.support import MizualServer, WorkerProcess, distributed_env, free_port, migrate


def mizual(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mizual", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_waits_default_to_a_minute_and_the_drain_to_three_seconds() -> None:
    fields = Settings.model_fields
    assert fields["startup_wait_seconds"].default == 60
    assert fields["shutdown_drain_seconds"].default == 3
    assert fields["api_workers"].default == 1


def test_schema_state_from_empty_to_newer_than_this_release(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, database_url=None)
    engine = build_engine(settings)
    try:
        assert schema_state(engine, schema=None) is SchemaState.EMPTY
        upgrade(engine, "0003")
        assert schema_state(engine, schema=None) is SchemaState.BEHIND
        upgrade(engine)
        assert schema_state(engine, schema=None) is SchemaState.AT_HEAD
        heads, _ = code_revisions()
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        assert "9999" not in heads
        assert schema_state(engine, schema=None) is SchemaState.AHEAD
    finally:
        engine.dispose()


@pytest.fixture
def stack_env(postgres_url: str, postgres_schema: str, redis_url: str) -> dict[str, str]:
    return distributed_env(
        database_url=postgres_url, schema=postgres_schema, redis_url=redis_url, s3={}
    )


@pytest.mark.slow
def test_api_waits_for_migrate_then_serves(tmp_path: Path, stack_env: dict[str, str]) -> None:
    api = MizualServer(tmp_path / "api", stack_env, command="api")
    started: list[BaseException | MizualServer] = []

    def start() -> None:
        try:
            started.append(api.start(timeout=60))
        except BaseException as exc:
            started.append(exc)

    starting = threading.Thread(target=start)
    starting.start()
    try:
        deadline = time.monotonic() + 20
        while "waiting for `mizual migrate`" not in api.log():
            assert time.monotonic() < deadline, api.log()
            time.sleep(0.1)
        assert f"schema {stack_env['DATABASE_SCHEMA']} is empty (never migrated)" in api.log()
        with pytest.raises(httpx.ConnectError):  # not up: a balancer sends it nothing
            httpx.get(f"{api.url}/health", timeout=2)

        migrate(stack_env)  # as a one-shot container beside it would
        migrated = time.monotonic()
        starting.join(60)
        assert started == [api], api.log()
        assert time.monotonic() - migrated < 15
        assert httpx.get(f"{api.url}/health").status_code == 200
    finally:
        starting.join(60)
        api.stop()


def test_api_gives_up_saying_to_run_migrate(stack_env: dict[str, str]) -> None:
    began = time.monotonic()
    result = mizual(
        "api", "--port", str(free_port()), env={**stack_env, "STARTUP_WAIT_SECONDS": "2"}
    )
    assert result.returncode == 1, result.stderr
    assert 2 <= time.monotonic() - began < 15
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"mizual: schema {stack_env['DATABASE_SCHEMA']} is empty (never migrated) after 2 s of "
        "waiting: run `mizual migrate` (it creates or upgrades the schema), then start this again"
    )
    assert "Mizual API at" not in result.stdout


def test_worker_waits_for_the_schema_before_celery_starts(stack_env: dict[str, str]) -> None:
    result = mizual("worker", env={**stack_env, "STARTUP_WAIT_SECONDS": "1"})
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"mizual: schema {stack_env['DATABASE_SCHEMA']} is empty (never migrated) after 1 s"
    )
    assert "celery@" not in result.stdout + result.stderr  # Celery never started


def test_api_and_worker_go_on_with_a_schema_a_newer_release_migrated(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    """A rolling update: the new release has migrated, the old one still starts."""
    migrate(stack_env)
    settings = load_settings(
        database_url=stack_env["DATABASE_URL"], database_schema=stack_env["DATABASE_SCHEMA"]
    )
    engine = build_engine(settings)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    env = {**stack_env, "STARTUP_WAIT_SECONDS": "5"}
    api = MizualServer(tmp_path / "api", env, command="api")
    worker = WorkerProcess(tmp_path / "worker", env).start()
    try:
        api.start(timeout=30)
        assert "waiting for `mizual migrate`" not in api.log()
        deadline = time.monotonic() + 60
        while " ready." not in worker.log():  # Celery's "celery@host ready."
            assert worker.process is not None
            assert worker.process.poll() is None, worker.log()
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.2)
    finally:
        worker.stop()
        api.stop()


def test_migrate_gives_up_on_a_database_that_does_not_answer(tmp_path: Path) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    began = time.monotonic()
    result = mizual(
        "migrate",
        env={"DATABASE_URL": closed, "STARTUP_WAIT_SECONDS": "3", "DATA_DIR": str(tmp_path)},
    )
    elapsed = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert 3 <= elapsed < 3 + 10
    assert "Traceback" not in result.stderr
    assert "waiting for the database to answer" in result.stderr  # the log, meanwhile
    last = result.stderr.splitlines()[-1]
    assert last.startswith("mizual: the database did not answer within 3 s (OperationalError: ")
    assert last.endswith(
        "; check DATABASE_URL and that the database is running (STARTUP_WAIT_SECONDS sets how "
        "long to wait)"
    )
    assert "database is up to date" not in result.stdout
