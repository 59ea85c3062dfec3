"""Status polls on both stacks over HTTP: the status limit holds under parallel polls (two API
processes sharing Redis in distributed mode), and a poll answered from the cache says what one
read from the database says."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from mizual.settings import Settings
from tests.conftest import FLUX_STACK_REDIS_DB
from tests.contract.conftest import STACK_ENV, Stack, stack_of_its_own
from tests.support import edit_and_wait, jpeg_bytes

# The allowance a user gets: RATE_LIMIT_STATUS_CHECKS_PER_MINUTE's default (the suite's stacks
# raise it for their other tests).
ALLOWANCE = Settings.model_fields["rate_limit_status_checks_per_minute"].default
LIMITED = {
    **STACK_ENV,
    "RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": str(ALLOWANCE),
    "API_WORKERS": "2",  # distributed: two API processes; `mizual serve` is one
}
ORIGIN = "https://mizual.ai"


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def limited_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with stack_of_its_own(
        request,
        tmp_path_factory.mktemp(f"polls-{request.param}"),
        env=LIMITED,
        redis_db=FLUX_STACK_REDIS_DB,
    ) as stack:
        yield stack


def test_parallel_polls_from_one_client_get_exactly_its_allowance(limited_stack: Stack) -> None:
    with limited_stack.client() as submitter:
        edit = edit_and_wait(submitter, "make it black and white", jpeg_bytes(160, 120))
    address = "10.250.0.1"

    def poll(_: int) -> httpx.Response:
        # A connection each, so that both API processes take some.
        with limited_stack.client(address) as http:
            return http.get(f"/edit/{edit['uuid']}", headers={"Origin": ORIGIN})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(poll, range(3 * ALLOWANCE)))
    allowed = [answer for answer in answers if answer.status_code == 200]
    refused = [answer for answer in answers if answer.status_code == 429]
    assert len(allowed) == ALLOWANCE, [answer.status_code for answer in answers]
    assert len(refused) == 2 * ALLOWANCE
    # The route answers every refusal: its CORS header is the one the cached answers carry too.
    allow_origin = refused[0].headers["access-control-allow-origin"]
    assert allow_origin in ("*", ORIGIN)
    for answer in allowed:
        assert answer.json()["status"] == "completed"
        assert answer.json()["edited_image_url"]
        assert answer.headers["access-control-allow-origin"] == allow_origin
    for answer in refused:
        assert f"at most {ALLOWANCE} status checks a minute" in answer.json()["detail"]
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
        assert answer.headers["access-control-allow-origin"] == allow_origin
    # Another client's allowance is untouched.
    with limited_stack.client() as other:
        assert other.get(f"/edit/{edit['uuid']}").status_code == 200


def test_a_cached_poll_says_what_a_poll_read_from_the_database_says(
    distributed_stack: Stack,
) -> None:
    with distributed_stack.client() as client:
        edit = edit_and_wait(client, "make it black and white", jpeg_bytes(160, 120))
        cache = redis.Redis.from_url(distributed_stack.env["CELERY_BROKER_URL"])
        environment = distributed_stack.env["ENVIRONMENT"]
        key = f"c2:{environment}:status:{uuid.UUID(edit['uuid'])}"
        assert cache.exists(key), key  # the worker wrote it through
        cache.delete(key)
        from_database = client.get(f"/edit/{edit['uuid']}", headers={"Origin": ORIGIN})
        assert cache.exists(key)  # the route filled it again
        from_cache = client.get(f"/edit/{edit['uuid']}", headers={"Origin": ORIGIN})
    assert from_database.status_code == from_cache.status_code == 200
    assert from_cache.json()["status"] == "completed"
    assert from_cache.content == from_database.content  # byte for byte
    assert [item for item in from_cache.headers.multi_items() if item[0] != "date"] == [
        item for item in from_database.headers.multi_items() if item[0] != "date"
    ]
