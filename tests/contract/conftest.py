"""The contract suite: every test here runs twice, against the same HTTP API served

- `embedded`: `mizual serve` (SQLite, local images, in-process workers), and
- `distributed`: `mizual api` + two `mizual worker` (Celery) processes sharing real PostgreSQL,
  Redis and an S3-API server.

Both stacks start once per session. Each test is a client of its own: the stacks trust
127.0.0.1 as a reverse proxy, and each test's `X-Forwarded-For` address gets its own rate-limit
budget, as separate people behind one proxy would.
"""

from __future__ import annotations

import base64
import itertools
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import CONTRACT_REDIS_DB
from tests.support import (
    MizualServer,
    S3Server,
    WorkerProcess,
    distributed_env,
    migrate,
    wait_for_workers,
)

ADMIN_TOKEN = "contract-admin-token"
# Standard Webhooks' form: whsec_ and the base64 of the key (32 bytes here).
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"contract-suite-webhook-key-32byt").decode()
STACK_ENV = {
    "TRUSTED_PROXIES": "127.0.0.1",
    "ADMIN_TOKEN": ADMIN_TOKEN,
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    # Receivers in the tests listen on loopback over plain HTTP: allowed by name, and only so.
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    # The same for images given by URL (image_url): loopback by name, over HTTP.
    "IMAGE_URL_ALLOW_HTTP": "true",
    "IMAGE_URL_ALLOWED_HOSTS": "127.0.0.1",
}
_client_numbers = itertools.count(1)


@dataclass
class Stack:
    mode: str
    api: MizualServer
    env: dict[str, str]
    workers: list[WorkerProcess] = field(default_factory=list)

    def client(self, address: str | None = None) -> httpx.Client:
        """A client with an address of its own (unique per call unless given)."""
        number = next(_client_numbers)
        address = address or f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        return httpx.Client(base_url=self.api.url, timeout=30, headers={"X-Forwarded-For": address})

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows straight from the stack's database (`?` placeholders, as in SQLite)."""
        if self.mode == "embedded":
            with sqlite3.connect(self.api.data_dir / "mizual.db") as db:
                db.row_factory = sqlite3.Row
                return [dict(row) for row in db.execute(sql, params).fetchall()]
        with psycopg.connect(
            self.env["DATABASE_URL"],
            options=f"-c search_path={self.env['DATABASE_SCHEMA']}",
            row_factory=dict_row,
        ) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    api = MizualServer(tmp_path_factory.mktemp("contract-embedded"), STACK_ENV).start()
    yield Stack("embedded", api, api.env)
    api.stop()


@contextmanager
def running_distributed_stack(
    folder: Path,
    *,
    postgres_url: str,
    redis_url: str,
    s3_server: S3Server,
    env: dict[str, str],
    workers: int,
) -> Iterator[Stack]:
    """`mizual api` and `workers` Celery workers on a schema, a bucket and a Redis database of
    their own (`redis_url`, emptied before and after), with `env` over the distributed
    settings; all removed afterwards."""
    schema = f"{folder.name.replace('-', '_')[:20]}_{uuid.uuid4().hex[:12]}"
    bucket = f"stack-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **distributed_env(
            database_url=postgres_url, schema=schema, redis_url=redis_url, s3=s3_server.env(bucket)
        ),
        **env,
    }
    migrate(env)
    api = MizualServer(folder / "api", env, command="api").start()
    stack = Stack("distributed", api, env)
    try:
        stack.workers = [
            WorkerProcess(folder / f"worker{n}", env).start() for n in range(1, workers + 1)
        ]
        with stack.client() as client:
            wait_for_workers(client, workers)
        yield stack
    finally:
        for worker in stack.workers:
            worker.stop()
        api.stop()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        redis.Redis.from_url(redis_url).flushdb()


@contextmanager
def stack_of_its_own(
    request: pytest.FixtureRequest,
    folder: Path,
    *,
    env: dict[str, str],
    redis_db: int,
) -> Iterator[Stack]:
    """For a module whose settings differ from the suite's: the stack of `request.param`
    (embedded: `mizual serve`; distributed: `mizual api` and one worker, on Redis database
    `redis_db`), with `env`."""
    if request.param == "embedded":
        api = MizualServer(folder, env).start()
        try:
            yield Stack("embedded", api, api.env)
        finally:
            api.stop()
        return
    with running_distributed_stack(
        folder,
        postgres_url=request.getfixturevalue("postgres_url"),
        redis_url=f"{request.getfixturevalue('redis_server_url')}/{redis_db}",
        s3_server=request.getfixturevalue("s3_server"),
        env=env,
        workers=1,
    ) as stack:
        yield stack


@pytest.fixture(scope="session")
def distributed_stack(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    redis_server_url: str,
    s3_server: S3Server,
) -> Iterator[Stack]:
    with running_distributed_stack(
        tmp_path_factory.mktemp("contract-distributed"),
        postgres_url=postgres_url,
        redis_url=f"{redis_server_url}/{CONTRACT_REDIS_DB}",
        s3_server=s3_server,
        env=STACK_ENV,
        workers=2,
    ) as stack:
        yield stack


@pytest.fixture(params=["embedded", "distributed"])
def stack(request: pytest.FixtureRequest) -> Stack:
    # Looked up lazily, so `-k embedded` never starts the distributed stack.
    instance: Stack = request.getfixturevalue(f"{request.param}_stack")
    return instance


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as http:
        yield http
