"""RabbitMQ as the broker (CELERY_BROKER_URL=amqp://...): an edit end to end, the queue's length,
and a whole worker killed with edits in flight, with the recovery settings a user gets."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

import pytest

from mizual.kit.queue.celery_queue import CeleryQueue
from mizual.settings import load_settings
from tests.edits.test_reconciler_faults import attempts
from tests.support import (
    MizualServer,
    S3Server,
    WorkerProcess,
    distributed_env,
    edit_and_wait,
    free_port,
    jpeg_bytes,
    migrate,
    submit,
    wait_for,
    wait_for_workers,
)

_RECEIVED = "Task mizual.process_edit["  # Celery's line for each job a worker is handed


def _env(
    *, postgres_url: str, schema: str, redis_url: str, amqp_url: str, s3: dict[str, str]
) -> dict[str, str]:
    env = distributed_env(database_url=postgres_url, schema=schema, redis_url=redis_url, s3=s3)
    # Redis stays the cache, the limits and the event streams; RabbitMQ carries the jobs.
    return {**env, "CELERY_BROKER_URL": amqp_url, "REDIS_URL": redis_url}


def test_the_queue_length_is_read_from_rabbitmq(amqp_url: str) -> None:
    queue = CeleryQueue(load_settings(celery_broker_url=amqp_url))
    try:
        assert queue.stats() == {"waiting": 0}  # no queue declared yet: nothing waits
        for _ in range(2):
            queue.dispatch(uuid4())
        assert queue.stats() == {"waiting": 2}  # AMQP does not count the unacknowledged
    finally:
        queue.close()
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    unreachable = CeleryQueue(load_settings(celery_broker_url=dead))
    started = time.monotonic()
    assert unreachable.stats() == {}
    assert time.monotonic() - started < 2
    unreachable.close()


def test_an_edit_end_to_end_through_rabbitmq(
    tmp_path: Path,
    postgres_url: str,
    postgres_schema: str,
    redis_url: str,
    amqp_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    env = _env(
        postgres_url=postgres_url,
        schema=postgres_schema,
        redis_url=redis_url,
        amqp_url=amqp_url,
        s3=s3_server.env(s3_bucket),
    )
    migrate(env)
    api = MizualServer(tmp_path / "api", env, command="api").start()
    worker = WorkerProcess(tmp_path / "worker", env).start()
    try:
        with api.client() as client:
            health = wait_for_workers(client, 1)
            assert health["status"] == "healthy", health
            status = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
            assert status["status"] == "completed", status
    finally:
        worker.stop()
        api.stop()
    assert "amqp://" in worker.log()
    assert "mizual.process_edit" in worker.log()


@pytest.fixture
def defaults_env(
    postgres_url: str,
    postgres_schema: str,
    redis_url: str,
    amqp_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> dict[str, str]:
    """As tests/edits/test_reconciler_faults.py's: every recovery setting at its default."""
    env = _env(
        postgres_url=postgres_url,
        schema=postgres_schema,
        redis_url=redis_url,
        amqp_url=amqp_url,
        s3=s3_server.env(s3_bucket),
    )
    for name in (
        "CELERY_VISIBILITY_TIMEOUT",
        "STUCK_EDIT_TIMEOUT_SECONDS",
        "SWEEP_INTERVAL_SECONDS",
    ):
        env.pop(name)
    # Long enough that the edits are still running once the second worker is up.
    return {**env, "EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "10"}


def _wait_until_ready(worker: WorkerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while " ready." not in worker.log():
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log()
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.1)


@pytest.mark.faults
def test_a_whole_worker_killed_with_edits_in_flight_rabbitmq_redelivers_at_once(
    tmp_path: Path, defaults_env: dict[str, str]
) -> None:
    env = {**defaults_env, "CELERY_CONCURRENCY": "3"}
    migrate(env)
    api = MizualServer(tmp_path / "api", env, command="api").start()
    doomed = WorkerProcess(tmp_path / "doomed", env).start()
    rescuer = WorkerProcess(tmp_path / "rescuer", env)
    try:
        with api.client() as client:
            wait_for_workers(client, 1)
            edit_ids = [
                submit(client, f"make it black and white {n}", jpeg_bytes(64, 48)).json()["edit_id"]
                for n in range(3)
            ]
            deadline = time.monotonic() + 60
            while {client.get(f"/edit/{e}").json()["status"] for e in edit_ids} != {"processing"}:
                assert time.monotonic() < deadline, "the edits did not all start"
                time.sleep(0.1)
            # Up and consuming before the kill, so that it is there to be handed the jobs.
            rescuer.start()
            _wait_until_ready(rescuer)
            assert _RECEIVED not in rescuer.log()  # the doomed worker holds all three
            doomed.kill()  # the worker and its pool, as an OOM kill of the container would
            killed = time.monotonic()
            assert {client.get(f"/edit/{e}").json()["status"] for e in edit_ids} == {
                "processing"
            }, "the kill came after an edit finished; it proved nothing"

            # RabbitMQ hands the dead consumer's unacknowledged jobs out as its connection
            # closes, not after a visibility timeout (Redis: 3600 s).
            while rescuer.log().count(_RECEIVED) < 3:
                assert time.monotonic() - killed < 15, rescuer.log()
                time.sleep(0.05)
            redelivered = time.monotonic() - killed
            # Those jobs find the edits under the dead worker's live leases and do nothing; once
            # a lease expires (at most 30 s after its last renewal) the reconciler of the API or
            # of the rescuer dispatches the edit again.
            finals = [wait_for(client, edit_id, timeout=90) for edit_id in edit_ids]
            completed = time.monotonic() - killed
    finally:
        doomed.kill()
        rescuer.stop()
        api.stop()
    print(f"redelivered {redelivered:.2f} s, completed {completed:.1f} s after the kill")
    assert redelivered < 5, redelivered
    assert [final["status"] for final in finals] == ["completed"] * 3, finals
    assert completed < 60, completed
    assert attempts(defaults_env, edit_ids) == dict.fromkeys(edit_ids, 2)
    for edit_id in edit_ids:
        assert f"edit {edit_id}: completed" in rescuer.log()
