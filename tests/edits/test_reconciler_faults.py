"""Real faults, with the recovery settings a user gets (EDIT_LEASE_SECONDS, RECONCILE_INTERVAL_
SECONDS, REDISPATCH_AFTER_SECONDS, CELERY_VISIBILITY_TIMEOUT and STUCK_EDIT_TIMEOUT_SECONDS all
at their defaults): the edit rows, not the broker, bring every accepted edit to completion."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
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
    wait_for,
    wait_for_workers,
)

pytestmark = pytest.mark.faults

# What the shared test environment shortens for its other tests; here they keep their defaults.
_SHORTENED = ("CELERY_VISIBILITY_TIMEOUT", "STUCK_EDIT_TIMEOUT_SECONDS", "SWEEP_INTERVAL_SECONDS")


@pytest.fixture
def defaults_env(
    postgres_url: str, postgres_schema: str, redis_url: str, s3_server: S3Server, s3_bucket: str
) -> dict[str, str]:
    env = distributed_env(
        database_url=postgres_url,
        schema=postgres_schema,
        redis_url=redis_url,
        s3=s3_server.env(s3_bucket),
    )
    for name in _SHORTENED:
        env.pop(name)
    return {**env, "EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "6"}


@pytest.fixture
def api(tmp_path: Path, defaults_env: dict[str, str]) -> Iterator[MizualServer]:
    migrate(defaults_env)
    server = MizualServer(tmp_path / "api", defaults_env, command="api").start()
    yield server
    server.stop()


def attempts(env: dict[str, str], edit_ids: list[str]) -> dict[str, int]:
    with psycopg.connect(
        env["DATABASE_URL"], options=f"-c search_path={env['DATABASE_SCHEMA']}"
    ) as conn:
        rows = conn.execute(
            "SELECT uuid::text, attempts FROM edits WHERE uuid::text = ANY(%s)", (edit_ids,)
        ).fetchall()
    return dict(rows)


def submit_three(client: httpx.Client) -> list[str]:
    return [
        submit(client, f"make it black and white {n}", jpeg_bytes(64, 48)).json()["edit_id"]
        for n in range(3)
    ]


def test_a_whole_worker_killed_mid_edit_loses_nothing(
    tmp_path: Path, api: MizualServer, defaults_env: dict[str, str]
) -> None:
    env = {**defaults_env, "CELERY_CONCURRENCY": "2"}
    doomed = WorkerProcess(tmp_path / "doomed", env).start()
    rescuer = WorkerProcess(tmp_path / "rescuer", env)
    try:
        with api.client() as client:
            wait_for_workers(client, 1)
            edit_ids = submit_three(client)
            deadline = time.monotonic() + 60
            while not any(
                client.get(f"/edit/{edit_id}").json()["processing_stage"] == "ai_processing"
                for edit_id in edit_ids
            ):
                assert time.monotonic() < deadline, "no edit started"
                time.sleep(0.1)
            doomed.kill()  # the worker and its pool, as an OOM kill of the container would
            held = [
                edit_id
                for edit_id in edit_ids
                if client.get(f"/edit/{edit_id}").json()["status"] == "processing"
            ]
            assert held, "the kill came after the edits finished; it proved nothing"
            rescuer.start()
            # The broker would hand the dead worker's jobs out after an hour; the leases expire
            # after 30 s, and the reconciler dispatches the edits again within 5 s of that.
            finals = [wait_for(client, edit_id, timeout=120) for edit_id in edit_ids]
        assert [final["status"] for final in finals] == ["completed"] * 3, finals
        assert all(final["progress_percent"] == 100 for final in finals)
        counts = attempts(defaults_env, edit_ids)
        assert all(counts[edit_id] == 2 for edit_id in held), counts
        for edit_id in held:
            assert f"edit {edit_id}: attempt 2 started" in rescuer.log()
            assert f"edit {edit_id}: completed" in rescuer.log()
    finally:
        doomed.kill()
        rescuer.stop()


def test_jobs_lost_with_the_broker_are_dispatched_again(
    tmp_path: Path, api: MizualServer, defaults_env: dict[str, str]
) -> None:
    with api.client() as client:
        edit_ids = submit_three(client)  # no worker yet: the jobs wait in Redis
        assert {client.get(f"/edit/{e}").json()["status"] for e in edit_ids} == {"pending"}
        # Redis restarted without persistence: the queue (and every cached status) is gone.
        redis.Redis.from_url(defaults_env["CELERY_BROKER_URL"]).flushdb()
        worker = WorkerProcess(tmp_path / "worker", defaults_env).start()
        try:
            finals = [wait_for(client, edit_id, timeout=120) for edit_id in edit_ids]
        finally:
            worker.stop()
    assert [final["status"] for final in finals] == ["completed"] * 3, finals
    assert attempts(defaults_env, edit_ids) == dict.fromkeys(edit_ids, 1)
