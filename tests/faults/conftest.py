"""Fixtures of the fault suite: its own PostgreSQL cluster (one per session, a schema per test),
its own Redis per test (with or without an AOF), and `build`, which makes one test's settings
(the recovery settings at their defaults) and its processes."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.harness import DEFAULTED, EditRows, PrivatePostgres, PrivateRedis, Stack
from tests.support import S3Server, distributed_env, migrate


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the suite's own (initdb once), which tests stop and restart."""
    server = PrivatePostgres()
    try:
        server.init()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis of this test's own without persistence: a restart loses everything."""
    server = PrivateRedis(tmp_path / "redis", aof=False).start()
    yield server
    server.stop(graceful=False)


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis of this test's own with an AOF (fsync every second): a graceful restart keeps
    what it held."""
    server = PrivateRedis(tmp_path / "redis-aof", aof=True).start()
    yield server
    server.stop(graceful=False)


@dataclass
class Setup:
    env: dict[str, str]
    stack: Stack
    rows: EditRows
    postgres: PrivatePostgres
    redis: PrivateRedis


@pytest.fixture
def build(
    tmp_path: Path, private_postgres: PrivatePostgres, s3_server: S3Server, s3_bucket: str
) -> Iterator[Callable[..., Setup]]:
    """`build(redis, s3=None, **settings)`: a schema of its own in the private PostgreSQL, the
    given Redis as broker and cache, the shared S3 server (or `s3`), the noop editor, and the
    recovery settings at their defaults; migrated, no process started yet."""
    inherited = [name for name in DEFAULTED if name in os.environ]
    if inherited:
        pytest.fail(f"the fault tests need these at their defaults; unset {inherited}")
    private_postgres.ensure_running()
    made: list[Setup] = []

    def make(redis: PrivateRedis, *, s3: dict[str, str] | None = None, **settings: Any) -> Setup:
        schema = f"faults_{uuid.uuid4().hex[:12]}"
        env = distributed_env(
            database_url=private_postgres.url,
            schema=schema,
            redis_url=redis.url,
            s3=s3 if s3 is not None else s3_server.env(s3_bucket),
        )
        for name in DEFAULTED:
            env.pop(name, None)
        env.update({"EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "3", "LOG_LEVEL": "INFO"})
        env.update({name: str(value) for name, value in settings.items()})
        migrate(env)
        setup = Setup(
            env=env,
            stack=Stack(tmp_path / f"stack{len(made)}", env),
            rows=EditRows(private_postgres.url, schema),
            postgres=private_postgres,
            redis=redis,
        )
        made.append(setup)
        return setup

    yield make
    for setup in made:
        setup.stack.close()
    private_postgres.ensure_running()
    for setup in made:
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(private_postgres.url, autocommit=True, connect_timeout=5) as conn,
        ):
            conn.execute(f'DROP SCHEMA IF EXISTS "{setup.rows.schema}" CASCADE')


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, private_redis: PrivateRedis) -> dict[str, str]:
    """The broker's settings for `build`: the test's own Redis (the default), or RabbitMQ (a
    virtual host of the test's own) with that Redis as cache, limits and event bus."""
    if request.param == "redis":
        return {}
    amqp_url: str = request.getfixturevalue("amqp_url")
    return {"CELERY_BROKER_URL": amqp_url, "REDIS_URL": private_redis.url}
