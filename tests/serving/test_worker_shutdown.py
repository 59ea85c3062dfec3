"""A deploy stops `mizual worker` with SIGTERM: Celery's warm shutdown finishes the edit it is
running, then the worker exits; no edit is lost or started again."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

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


@pytest.mark.slow
def test_sigterm_lets_the_running_edit_finish(
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
        # The edit is at the provider for 4 s: the signal comes in the middle of it.
        "EDIT_PROVIDER": "noop",
        "NOOP_EDIT_DELAY_SECONDS": "4",
    }
    migrate(env)
    api = MizualServer(tmp_path / "api", env, command="api").start()
    worker = WorkerProcess(tmp_path / "worker", env).start()
    try:
        with api.client() as client:
            wait_for_workers(client, 1)
            edit_id = submit(client, "make it black and white", jpeg_bytes()).json()["edit_id"]
            deadline = time.monotonic() + 30
            while client.get(f"/edit/{edit_id}").json()["processing_stage"] != "ai_processing":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert worker.process is not None
            signalled = time.monotonic()
            worker.process.send_signal(signal.SIGTERM)

            status = wait_for(client, edit_id, timeout=30)
            assert status["status"] == "completed", status
            assert worker.process.wait(30) == 0, worker.log()
            assert time.monotonic() - signalled < 20
        log = worker.log()
        assert log.count(f"edit {edit_id}: attempt 1 started") == 1, log
        assert f"edit {edit_id}: attempt 2" not in log, log
        assert "Traceback" not in log, log
    finally:
        worker.stop()
        api.stop()
