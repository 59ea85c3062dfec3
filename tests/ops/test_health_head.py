"""HEAD of /health, /version and /health/celery, as load balancers and uptime checks send it:
the status and headers of the GET, without a body. Real HTTP against real server processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import MizualServer, S3Server, distributed_env, migrate

PROBED = ["/health", "/version", "/health/celery"]


def assert_head_like_get(client: httpx.Client, path: str, status_code: int) -> None:
    get = client.get(path)
    head = client.head(path)
    assert get.status_code == head.status_code == status_code, (get.text, head.status_code)
    assert head.content == b""
    # Every header the same (the date aside), content-type and content-length included: a
    # HEAD tells how long the GET's body would be.
    assert {**head.headers, "date": ""} == {**get.headers, "date": ""}
    assert int(head.headers["content-length"]) == len(get.content) > 0
    assert head.headers["content-type"] == "application/json"


@pytest.fixture
def own_server(make_server: Callable[..., MizualServer]) -> MizualServer:
    # Its own: /health/celery's rate limit is per client, and counted here.
    return make_server()


@pytest.mark.parametrize("path", PROBED)
def test_head_answers_like_get(own_server: MizualServer, path: str) -> None:
    with own_server.client() as client:
        assert_head_like_get(client, path, 200)


def test_head_of_celery_health_counts_against_its_rate_limit(own_server: MizualServer) -> None:
    """The same check as the GET, so the same allowance of 10 a minute: a balancer probing with
    HEAD cannot make the API ask the workers more often than a GET could."""
    with own_server.client() as client:
        for _ in range(10):
            assert client.head("/health/celery").status_code == 200
        refused = client.get("/health/celery")
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        refused_head = client.head("/health/celery")
        assert refused_head.status_code == 429
        assert refused_head.content == b""
        assert int(refused_head.headers["Retry-After"]) >= 1
        # /health is not limited: a balancer's probes of it never meet a 429.
        for _ in range(15):
            assert client.head("/health").status_code == 200


@pytest.fixture
def api_without_workers(
    tmp_path: Path,
    postgres_url: str,
    postgres_schema: str,
    redis_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> Iterator[MizualServer]:
    env = distributed_env(
        database_url=postgres_url,
        schema=postgres_schema,
        redis_url=redis_url,
        s3=s3_server.env(s3_bucket),
    )
    migrate(env)
    server = MizualServer(tmp_path / "api", env, command="api").start()
    yield server
    server.stop()


@pytest.mark.slow
def test_head_of_celery_health_is_503_when_no_worker_answers(
    api_without_workers: MizualServer,
) -> None:
    with api_without_workers.client() as client:
        assert_head_like_get(client, "/health/celery", 503)
        assert client.get("/health/celery").json()["message"] == "No worker answered."
        assert_head_like_get(client, "/health", 200)
