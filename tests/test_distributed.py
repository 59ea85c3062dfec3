"""Distributed mode with real processes: `mizual api` + `mizual worker` (Celery) sharing
PostgreSQL, Redis and an S3-API server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.support import (
    MizualServer,
    S3Server,
    WorkerProcess,
    colourfulness,
    distributed_env,
    edit_and_wait,
    fetch_image,
    free_port,
    jpeg_bytes,
    migrate,
    submit,
    wait_for,
    wait_for_workers,
)


@pytest.fixture
def stack_env(
    postgres_url: str, postgres_schema: str, redis_url: str, s3_server: S3Server, s3_bucket: str
) -> dict[str, str]:
    return distributed_env(
        database_url=postgres_url,
        schema=postgres_schema,
        redis_url=redis_url,
        s3=s3_server.env(s3_bucket),
    )


@pytest.fixture
def api(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[MizualServer]:
    migrate(stack_env)
    server = MizualServer(tmp_path / "api", stack_env, command="api").start()
    yield server
    server.stop()


def test_api_and_celery_worker_complete_an_edit(
    tmp_path: Path, api: MizualServer, stack_env: dict[str, str]
) -> None:
    worker = WorkerProcess(tmp_path / "worker", stack_env).start()
    try:
        with api.client() as client:
            health = wait_for_workers(client, 1)
            assert health["status"] == "healthy"
            assert health["mode"] == "distributed"

            status = edit_and_wait(client, "make it black and white", jpeg_bytes())
            assert status["status"] == "completed", status
            assert status["edited_image_url"].startswith(stack_env["S3_ENDPOINT_URL"])
            _, result = fetch_image(client, status["edited_image_url"])
            assert colourfulness(result) < 1.0
            assert client.get("/version").json()["database"] == "postgresql"
    finally:
        worker.stop()
    assert "mizual.process_edit" in worker.log()


@pytest.mark.faults
def test_celery_health_without_workers_or_broker(
    tmp_path: Path, api: MizualServer, stack_env: dict[str, str]
) -> None:
    with api.client() as client:
        response = client.get("/health/celery")
        assert response.status_code == 503
        assert response.json()["status"] == "unhealthy"
        assert response.json()["worker_count"] == 0

    dead_broker = {**stack_env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    broken = MizualServer(tmp_path / "broken", dead_broker, command="api").start()
    try:
        response = httpx.get(f"{broken.url}/health/celery", timeout=10)
        assert response.status_code == 503
        assert response.elapsed.total_seconds() < 5
        assert "broker is not reachable" in response.json()["message"]

        with broken.client() as client:
            refused = submit(client, "flip it", jpeg_bytes(64, 48))
            assert refused.status_code == 503, refused.text
            assert refused.elapsed.total_seconds() < 10
            assert "try again in a minute" in refused.json()["detail"]
            assert client.get("/health").status_code == 200
        with psycopg.connect(
            stack_env["DATABASE_URL"],
            options=f"-c search_path={stack_env['DATABASE_SCHEMA']}",
        ) as conn:
            left = conn.execute("SELECT status FROM edits").fetchall()
        assert left == [("failed",)]  # recorded as failed, not left pending forever
    finally:
        broken.stop()


def test_edit_stuck_in_processing_is_failed_by_the_sweep(
    api: MizualServer, stack_env: dict[str, str]
) -> None:
    with api.client() as client:
        edit_id = submit(client, "make it black and white", jpeg_bytes(64, 48)).json()["edit_id"]
        assert client.get(f"/edit/{edit_id}").json()["status"] == "pending"  # no worker runs
        # As if a worker had started it and then vanished an hour ago.
        with psycopg.connect(
            stack_env["DATABASE_URL"],
            options=f"-c search_path={stack_env['DATABASE_SCHEMA']}",
        ) as conn:
            conn.execute(
                "UPDATE edits SET status = 'processing', processing_stage = 'ai_processing', "
                "updated_at = now() - interval '1 hour' WHERE uuid = %s",
                (edit_id,),
            )
        deadline = time.monotonic() + 20
        while (status := client.get(f"/edit/{edit_id}").json())["status"] != "failed":
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["is_error"] is True
        assert "stopped making progress" in status["message"]
        assert status["error_stage"] == "ai_processing"


@pytest.mark.faults
def test_worker_killed_mid_edit_loses_nothing(
    tmp_path: Path, api: MizualServer, stack_env: dict[str, str]
) -> None:
    # Two workers are running; the provider takes 6 s per edit, time enough to kill the holder.
    slow = {**stack_env, "EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "6"}
    workers = [WorkerProcess(tmp_path / f"worker{n}", slow).start() for n in (1, 2)]
    try:
        with api.client() as client:
            wait_for_workers(client, 2)
            edit_id = submit(client, "make it black and white", jpeg_bytes()).json()["edit_id"]
            deadline = time.monotonic() + 60
            while (status := client.get(f"/edit/{edit_id}").json())["processing_stage"] != (
                "ai_processing"
            ):
                assert status["status"] != "completed", "finished before the kill; proved nothing"
                assert time.monotonic() < deadline, status
                time.sleep(0.05)
            started = f"edit {edit_id}: attempt 1 started"
            (holder,) = [worker for worker in workers if started in worker.log()]
            (other,) = [worker for worker in workers if worker is not holder]
            holder.kill()
            assert client.get(f"/edit/{edit_id}").json()["status"] == "processing"

            # The job comes back once the broker's visibility timeout (15 s here) has passed.
            final = wait_for(client, edit_id, timeout=90)
        assert final["status"] == "completed", final
        assert final["progress_percent"] == 100
        assert f"edit {edit_id}: attempt 2 started" in other.log()
        assert f"edit {edit_id}: completed" in other.log()
        with psycopg.connect(
            stack_env["DATABASE_URL"],
            options=f"-c search_path={stack_env['DATABASE_SCHEMA']}",
        ) as conn:
            attempts = conn.execute(
                "SELECT attempts FROM edits WHERE uuid = %s", (edit_id,)
            ).fetchone()
        assert attempts == (2,)
    finally:
        for worker in workers:
            worker.stop()


@pytest.mark.faults
def test_api_answers_from_postgresql_when_its_redis_is_down(
    tmp_path: Path, api: MizualServer, stack_env: dict[str, str]
) -> None:
    worker = WorkerProcess(tmp_path / "worker", stack_env).start()
    try:
        with api.client() as client:
            wait_for_workers(client, 1)
            done = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
            assert done["status"] == "completed", done
    finally:
        worker.stop()
    with api.client() as client:  # no worker runs now: this edit waits
        pending = submit(client, "flip it", jpeg_bytes(64, 48)).json()["edit_id"]

    # Another API process whose cache and limits live in a Redis that does not answer.
    dead_redis = {**stack_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    cut_off = MizualServer(tmp_path / "cut-off", dead_redis, command="api").start()
    try:
        with cut_off.client() as client:
            for _ in range(3):  # misses every time, and every time the database answers
                status = client.get(f"/edit/{done['uuid']}")
                assert status.status_code == 200, status.text
                assert status.json()["status"] == "completed"
                url = status.json()["edited_image_url"]
                assert urlsplit(url).path == urlsplit(done["edited_image_url"]).path
            _, result = fetch_image(client, url)  # freshly signed, and it works
            assert colourfulness(result) < 1.0
            chain = client.get(f"/chain/{done['uuid']}")
            assert chain.status_code == 200, chain.text
            assert chain.json()["chain_length"] == 1
            feedback = client.post("/feedback/", json={"edit_uuid": done["uuid"], "rating": 1})
            assert feedback.status_code == 200, feedback.text
            assert client.get(f"/edit/{pending}").json()["status"] == "pending"
            assert client.get("/health").json()["status"] == "ok"
        assert "answering from the database" in cut_off.log()
    finally:
        cut_off.stop()


@pytest.mark.faults
def test_an_edit_that_cannot_be_queued_costs_no_daily_image(
    tmp_path: Path, stack_env: dict[str, str], redis_url: str
) -> None:
    # The limits live in a Redis that works; only the broker is down.
    env = {
        **stack_env,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "RATE_LIMIT_DAILY_IMAGES": "1",
        "RATE_LIMIT_BURST_SECONDS": "10",
    }
    migrate(env)
    broken = MizualServer(tmp_path / "api", env, command="api").start()
    try:
        with broken.client() as client:
            for _ in range(2):
                refused = submit(client, "flip it", jpeg_bytes(64, 48))
                assert refused.status_code == 503, refused.text  # never 429: nothing was spent
    finally:
        broken.stop()
