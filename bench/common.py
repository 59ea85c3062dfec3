"""Shared pieces of the benchmarks: statistics, images, services, and the two ways to run Mizual.

Embedded: one `mizual serve` (SQLite, in-process workers). Distributed: `mizual api` + Celery
`mizual worker` processes sharing PostgreSQL, Redis and a moto S3-API server, started the way
tests/test_distributed.py starts them (the helpers come from tests/support.py).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.support import (  # noqa: E402
    MizualServer,
    S3Server,
    WorkerProcess,
    data_url,
    distributed_env,
    gradient_image,
    migrate,
)

POSTGRES_URL = os.environ.get(
    "MIZUAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MIZUAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")

# The noop editor returns the photo unchanged at once: what is left is Mizual's own work.
NOOP = {"EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "0", "LOG_LEVEL": "WARNING"}
# 100 pollers on one address would meet the per-client status limit of tests/support.py.
UNLIMITED = {"RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": "100000000"}


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """min, median, max."""
    return min(values), statistics.median(values), max(values)


def photo_1mp() -> bytes:
    data: bytes = gradient_image(1200, 860).write_to_buffer(".jpg", Q=90)
    return data


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        for child in map(int, text):
            found += [child, *children(child)]
    return found


def machine() -> str:
    import platform

    import pyvips

    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    pg = subprocess.run(
        ["psql", POSTGRES_URL, "-Atc", "SHOW server_version"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024**2:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, libvips "
        f"{pyvips.version(0)}.{pyvips.version(1)}, PostgreSQL {pg or '?'}"
    )


def commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    line = done.stdout.strip() or "unknown"
    line = line if len(line) <= 80 else line[:79] + "…"
    return line + (" (with uncommitted changes)" if dirty else "")


def ensure_services() -> None:
    """PostgreSQL and Redis on loopback, started as .ci/run starts them when they are down."""
    if (
        shutil.which("pg_isready")
        and subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode
    ):
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
        )
    if (
        shutil.which("redis-cli")
        and subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], capture_output=True
        ).returncode
    ):
        subprocess.run(
            [
                *("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1"),
                *("--port", "6379", "--save", "", "--appendonly", "no"),
                *("--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"),
            ],
            check=False,
        )
    deadline = time.monotonic() + 30
    import psycopg
    import redis

    while True:
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# --- running Mizual -------------------------------------------------------------------------


class Stack:
    """What a benchmark needs of either mode: a URL, the API's pid, the edit-running pids."""

    mode: str
    api: MizualServer

    @property
    def url(self) -> str:
        return self.api.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api.url, timeout=60)

    def api_pid(self) -> int:
        assert self.api.process is not None
        return self.api.process.pid

    def worker_pids(self) -> list[int]:
        raise NotImplementedError


class Embedded(Stack):
    mode = "embedded"

    def __init__(self, folder: Path, workers: int, env: dict[str, str] | None = None) -> None:
        env = {**NOOP, **UNLIMITED, "MAX_WORKERS": str(workers), **(env or {})}
        self.api = MizualServer(folder / f"embedded-{uuid.uuid4().hex[:6]}", env)

    def worker_pids(self) -> list[int]:
        return [self.api_pid()]  # the workers are threads of the server

    def stop(self) -> None:
        self.api.stop()


class Distributed(Stack):
    """API + worker processes; `workers(...)` replaces the workers, the API keeps running."""

    mode = "distributed"

    def __init__(self, folder: Path, s3: S3Server, env: dict[str, str] | None = None) -> None:
        import redis

        self.folder = folder
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(bucket)
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        self.redis_url = f"{REDIS_URL}/{uuid.uuid4().int % 14 + 1}"
        redis.Redis.from_url(self.redis_url).flushdb()
        self.env = {
            **distributed_env(
                database_url=POSTGRES_URL,
                schema=self.schema,
                redis_url=self.redis_url,
                s3=s3.env(bucket),
            ),
            **NOOP,
            **UNLIMITED,
            "CELERY_VISIBILITY_TIMEOUT": "600",
            **(env or {}),
        }
        migrate(self.env)
        self.api = MizualServer(folder / f"api-{self.schema}", self.env, command="api")
        self.processes: list[WorkerProcess] = []

    def workers(self, processes: int, concurrency: int, env: dict[str, str] | None = None) -> None:
        self.stop_workers()
        worker_env = {**self.env, "CELERY_CONCURRENCY": str(concurrency), **(env or {})}
        self.processes = [
            WorkerProcess(self.folder / f"worker-{self.schema}-{n}", worker_env).start()
            for n in range(processes)
        ]

    def worker_pids(self) -> list[int]:
        pids = []
        for worker in self.processes:
            assert worker.process is not None
            pids += [worker.process.pid, *children(worker.process.pid)]
        return pids

    def stop_workers(self) -> None:
        for worker in self.processes:
            worker.stop()
        self.processes = []

    def stop(self) -> None:
        import psycopg
        import redis

        self.stop_workers()
        self.api.stop()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        redis.Redis.from_url(self.redis_url).flushdb()


@contextmanager
def started(stack: Stack) -> Iterator[Stack]:
    stack.api.start(timeout=60)
    try:
        yield stack
    finally:
        stack.stop()  # type: ignore[attr-defined]


# --- edits ----------------------------------------------------------------------------------


def submit(client: httpx.Client, image: bytes, prompt: str = "flip it") -> str:
    response = client.post("/edit-image/", json={"prompt": prompt, "image": data_url(image)})
    response.raise_for_status()
    edit_id: str = response.json()["edit_id"]
    return edit_id


def submit_many(url: str, image: bytes, count: int, threads: int = 4) -> list[str]:
    body = {"prompt": "flip it", "image": data_url(image)}

    def one(_: int) -> str:
        with httpx.Client(base_url=url, timeout=60) as client:
            response = client.post("/edit-image/", json=body)
            response.raise_for_status()
            edit_id: str = response.json()["edit_id"]
            return edit_id

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def wait_all(
    client: httpx.Client, edit_ids: list[str], timeout: float = 120
) -> list[dict[str, Any]]:
    """Poll until every edit is finished (one poll every 50 ms per unfinished edit at most)."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(edit_ids):
        for edit_id in edit_ids:
            if edit_id in done:
                continue
            status = client.get(f"/edit/{edit_id}").json()
            if status["is_complete"] or status["is_error"]:
                done[edit_id] = status
            else:
                break  # they finish roughly in order: look at the next one later
        if len(done) < len(edit_ids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(edit_ids) - len(done)} edits unfinished after {timeout}s")
            time.sleep(0.05)
    failed = [status for status in done.values() if status["status"] != "completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} edits failed, e.g. {failed[0]}")
    return [done[edit_id] for edit_id in edit_ids]


def when(status: dict[str, Any], field: str) -> float:
    return datetime.fromisoformat(status[field]).timestamp()
