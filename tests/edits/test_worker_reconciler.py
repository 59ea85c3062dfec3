"""The reconciler in `mizual worker`: with workers alone running (no API process), edits whose
jobs were lost are dispatched again, with the recovery settings a user gets."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import redis

from tests.support import (
    MizualServer,
    S3Server,
    WorkerProcess,
    distributed_env,
    jpeg_bytes,
    migrate,
    submit,
)

# A fault (the broker emptied) waited out with default settings: about a minute.
pytestmark = pytest.mark.faults


def _statuses(env: dict[str, str]) -> dict[str, str]:
    with psycopg.connect(
        env["DATABASE_URL"], options=f"-c search_path={env['DATABASE_SCHEMA']}"
    ) as conn:
        return dict(conn.execute("SELECT uuid::text, status FROM edits").fetchall())


def test_workers_alone_dispatch_again_the_edits_whose_jobs_were_lost(
    tmp_path: Path,
    postgres_url: str,
    postgres_schema: str,
    redis_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    env = {
        **distributed_env(
            database_url=postgres_url,
            schema=postgres_schema,
            redis_url=redis_url,
            s3=s3_server.env(s3_bucket),
        ),
        "EDIT_PROVIDER": "noop",
        # Every pool process is replaced after its edit: forked from a main process whose
        # reconciler holds database connections, which must stay its own.
        "CELERY_WORKER_MEMORY_LIMIT": "1024",
    }  # RECONCILE_INTERVAL_SECONDS and REDISPATCH_AFTER_SECONDS at their defaults
    migrate(env)
    api = MizualServer(tmp_path / "api", env, command="api").start()
    try:
        with api.client() as client:
            edit_ids = [
                submit(client, f"make it black and white {n}", jpeg_bytes(64, 48)).json()["edit_id"]
                for n in range(3)
            ]
    finally:
        api.stop()  # from here on, no API process runs a reconciler
    # Redis restarted without persistence: the queued jobs are gone, the rows stay pending.
    redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    assert set(_statuses(env).values()) == {"pending"}

    worker = WorkerProcess(tmp_path / "worker", env).start()
    try:
        deadline = time.monotonic() + 90
        while set(_statuses(env).values()) != {"completed"}:
            assert worker.process is not None
            assert worker.process.poll() is None, worker.log()
            assert time.monotonic() < deadline, (_statuses(env), worker.log())
            time.sleep(0.5)
        time.sleep(6)  # one more round, after the pool processes were replaced
    finally:
        worker.stop()
    log = worker.log()
    for edit_id in edit_ids:
        assert f"edit {edit_id}: pending with no live job" in log, log
        assert f"edit {edit_id}: completed" in log, log
    assert "edit-reconciler failed" not in log, log
    assert worker.process is not None
    assert worker.process.returncode == 0, log  # stopped cleanly, rounds and runtime closed
    assert "Traceback" not in log, log
