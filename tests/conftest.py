from __future__ import annotations

import os
import random
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import kombu
import psycopg
import pytest
import redis

from tests.support import MizualServer, S3Server, running_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    """One shared embedded server with relaxed rate limits and an admin token."""
    with running_server(
        tmp_path_factory.mktemp("shared-server"), env={"ADMIN_TOKEN": "test-admin-token"}
    ) as instance:
        yield instance


@pytest.fixture
def client(server: MizualServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Start extra servers with their own settings; all are stopped after the test."""
    started: list[MizualServer] = []

    def start(env: dict[str, str] | None = None, data_dir: Path | None = None) -> MizualServer:
        instance = MizualServer(data_dir or tmp_path / f"server{len(started)}", env).start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


POSTGRES_URL = os.environ.get(
    "MIZUAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def require_service(name: str, url: str, variable: str, ping: Callable[[], object]) -> str:
    """A shared service the tests need. Missing: a skip on a laptop, a failure in CI."""
    try:
        ping()
    except Exception as exc:
        reason = f"{name} is not reachable at {url} ({exc.__class__.__name__})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the {name} tests")
        pytest.skip(f"{reason}; start it or set {variable}")
    return url


def _ping_postgres() -> None:
    with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
        conn.execute("SELECT 1")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_service("PostgreSQL", POSTGRES_URL, "MIZUAL_TEST_DATABASE_URL", _ping_postgres)


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A schema of its own for one test, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_options(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for one of the two databases: a test that takes them runs on each."""
    if request.param == "sqlite":
        return {}
    return {
        "database_url": request.getfixturevalue("postgres_url"),
        "database_schema": request.getfixturevalue("postgres_schema"),
    }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    instance = S3Server(tmp_path_factory.mktemp("s3")).start()
    yield instance
    instance.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    name = f"mizual-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name


REDIS_URL = os.environ.get("MIZUAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    return require_service(
        "Redis",
        REDIS_URL,
        "MIZUAL_TEST_REDIS_URL",
        lambda: redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping(),
    )


# The contract suite's distributed stack keeps this database for the whole session, and its
# FLUX-backed stack for cancelling (tests/contract/test_cancel.py) the next one for its module.
CONTRACT_REDIS_DB = 15
FLUX_STACK_REDIS_DB = 14


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """A Redis database of its own for one test (numbers 1-13; 0, 14 and 15 are left alone),
    emptied before and after."""
    url = f"{redis_server_url}/{random.randint(1, FLUX_STACK_REDIS_DB - 1)}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


# RabbitMQ, for the tests of the amqp broker.
AMQP_URL = os.environ.get("MIZUAL_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")


def _ping_rabbitmq() -> None:
    with kombu.Connection(f"{AMQP_URL}//", connect_timeout=3) as connection:
        connection.connect()


@pytest.fixture(scope="session")
def rabbitmq_server_url() -> str:
    return require_service("RabbitMQ", AMQP_URL, "MIZUAL_TEST_AMQP_URL", _ping_rabbitmq)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def amqp_url(rabbitmq_server_url: str) -> Iterator[str]:
    """A virtual host of its own for one test, deleted afterwards; where rabbitmqctl is not at
    hand (RabbitMQ elsewhere), the default one, its queue emptied before and after."""
    if shutil.which("rabbitmqctl") is None:
        url = f"{rabbitmq_server_url}//"
        _purge(url)
        yield url
        _purge(url)
        return
    vhost = f"mizual-test-{uuid.uuid4().hex[:12]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield f"{rabbitmq_server_url}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def _purge(url: str) -> None:
    with kombu.Connection(url, connect_timeout=3) as connection:
        kombu.Queue("celery", channel=connection.default_channel).purge()
