"""Several API processes on one port: `mizual api --workers N` (uvicorn's supervisor) and
`uvicorn --factory mizual.app:create_app_from_env`, with real PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import UNKNOWN_ID, MizualServer, distributed_env, free_port, migrate

TOKEN = "test-admin-token"


@pytest.fixture
def stack_env(postgres_url: str, postgres_schema: str, redis_url: str) -> dict[str, str]:
    env = distributed_env(
        database_url=postgres_url, schema=postgres_schema, redis_url=redis_url, s3={}
    )
    migrate(env)
    return env


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (multiprocessing's resource tracker left out)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"resource_tracker" not in command:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def rejections(url: str) -> float:
    """mizual_rate_limit_rejections_total{rule="status"} as one scrape reports it."""
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith('mizual_rate_limit_rejections_total{rule="status"}'):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
def two_workers(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[MizualServer]:
    env = {
        **stack_env,
        "API_WORKERS": "2",
        "ADMIN_TOKEN": TOKEN,
        "RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": "1",
    }
    server = MizualServer(tmp_path / "api", env, command="api")
    del server.env["SHUTDOWN_DRAIN_SECONDS"]  # its default, 3 s
    server.start(timeout=60)
    yield server
    server.kill()


@pytest.mark.slow
def test_api_workers_serve_from_two_processes_that_report_together(
    two_workers: MizualServer,
) -> None:
    assert two_workers.process is not None
    supervisor = two_workers.process.pid
    pids = children(supervisor)
    assert len(pids) == 2, pids

    # Each process built its own app: its start time tells which one answered. A connection
    # per request, so that both processes accept some.
    started_at = set()
    deadline = time.monotonic() + 20
    while len(started_at) < 2:
        assert time.monotonic() < deadline, started_at
        started_at.add(httpx.get(f"{two_workers.url}/version").json()["started_at"])

    # The limit is shared in Redis; each 429 is counted by the process that refused it, and
    # every scrape, whichever process answers it, adds up both.
    codes = [httpx.get(f"{two_workers.url}/edit/{UNKNOWN_ID}").status_code for _ in range(20)]
    assert codes[0] == 404
    refused = codes.count(429)
    assert refused == 19
    assert {rejections(two_workers.url) for _ in range(10)} == {refused}

    signalled = time.monotonic()
    two_workers.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    health = [httpx.get(f"{two_workers.url}/health").status_code for _ in range(6)]
    assert set(health) == {503}, health  # both processes drain
    assert two_workers.process.wait(3 + 10 + 5) == 0, two_workers.log()
    assert time.monotonic() - signalled >= 3
    assert not any(alive(pid) for pid in pids)


def test_a_second_sigterm_to_the_supervisor_cuts_the_drain_short(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    env = {**stack_env, "API_WORKERS": "2", "SHUTDOWN_DRAIN_SECONDS": "60"}
    server = MizualServer(tmp_path / "api", env, command="api").start(timeout=60)
    try:
        assert server.process is not None
        # `start` saw one child answer; a child still starting when the signal comes shuts down
        # at once instead of draining (it has served nothing): wait until both have started.
        deadline = time.monotonic() + 30
        while server.log().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        server.process.send_signal(signal.SIGTERM)
        # Both children must have handled the first SIGTERM (a 503 proves it of one only):
        # two signals that reach a child before its handler has run are one to Python.
        deadline = time.monotonic() + 10
        while server.log().count("SIGTERM: draining for 60 s") < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        assert httpx.get(f"{server.url}/health").status_code == 503
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0, server.log()
        assert time.monotonic() - signalled < 5
        assert server.log().count("SIGTERM again: shutting down now") == 2
    finally:
        server.kill()


@pytest.mark.slow
def test_uvicorn_runs_the_factory(tmp_path: Path, stack_env: dict[str, str]) -> None:
    port = free_port()
    log = tmp_path / "uvicorn.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "mizual.app:create_app_from_env",
            "--port",
            str(port),
        ],
        env={**os.environ, **stack_env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        version = httpx.get(f"{url}/version").json()
        assert version["database"] == "postgresql"
        assert version["environment"] == "preview"

        # The drain is the app's: plain uvicorn's SIGTERM drains too.
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert httpx.get(f"{url}/health").json()["status"] == "draining"
        process.wait(3 + 10 + 5)  # its status is uvicorn's: it dies of the SIGTERM
        assert "SIGTERM: draining for 3 s" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_a_bad_setting_stops_the_factory_with_one_line(stack_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from mizual.app import create_app_from_env as f; f()"],
        env={**os.environ, **stack_env, "SHUTDOWN_DRAIN_SECONDS": "-1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "mizual: invalid configuration: SHUTDOWN_DRAIN_SECONDS must be a number of seconds "
        "from 0 to 600 (got '-1')"
    )
