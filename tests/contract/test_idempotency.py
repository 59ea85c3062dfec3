"""`Idempotency-Key` through real HTTP: a replay is the first answer (edit_id and edit_token),
makes no edit, uploads nothing and spends no budget; another body is refused; keys are per
client address; failures are not kept; replays survive a restart; parallel requests with one
key, split between two API processes in the distributed stack, make one edit."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.conftest import ADMIN_TOKEN, STACK_ENV, Stack
from tests.support import (
    MizualServer,
    assert_error,
    data_url,
    edit_and_wait,
    jpeg_bytes,
)

REPLAYED = "Idempotent-Replayed"


def new_key() -> str:
    return str(uuid.uuid4())


def tagged_body() -> dict[str, Any]:
    """A submission whose prompt no other test sends, so its edits can be counted."""
    return {"prompt": f"make it brighter {uuid.uuid4().hex}", "image": data_url(jpeg_bytes(64, 48))}


def post(client: httpx.Client, body: dict[str, Any], key: str) -> httpx.Response:
    return client.post("/edit-image/", json=body, headers={"Idempotency-Key": key})


def edits_with_prompt(stack: Stack, prompt: str) -> list[dict[str, Any]]:
    return stack.rows("SELECT edit_token_hash FROM edits WHERE prompt = ?", prompt)


def stored_originals(stack: Stack) -> int:
    if stack.mode == "embedded":
        return sum(
            1 for path in (stack.api.data_dir / "images").rglob("*") if "originals" in path.parts
        )
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.env["S3_ENDPOINT_URL"],
        region_name=stack.env["S3_REGION_NAME"],
        aws_access_key_id=stack.env["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["S3_SECRET_ACCESS_KEY"],
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.env["S3_BUCKET_NAME"])
    return sum(
        1 for page in pages for item in page.get("Contents", []) if "originals/" in item["Key"]
    )


@pytest.fixture
def own_api(stack: Stack, tmp_path: Path) -> Iterator[Callable[..., MizualServer]]:
    """Another API server for this stack, with settings of its own: in the embedded mode a
    `mizual serve` on a data folder of its own; in the distributed one a second `mizual api`
    on the stack's database, Redis and bucket (its edits run on the stack's workers)."""
    started: list[MizualServer] = []

    def start(**env: str) -> MizualServer:
        folder = tmp_path / f"api{len(started)}"
        if stack.mode == "embedded":
            server = MizualServer(folder, {**STACK_ENV, **env})
        else:
            server = MizualServer(folder, {**stack.env, **env}, command="api")
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def client_of(server: MizualServer, address: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": address})


def test_a_replay_is_the_first_answer_and_makes_nothing_new(
    stack: Stack, client: httpx.Client
) -> None:
    body, key = tagged_body(), new_key()
    first = post(client, body, key)
    assert first.status_code == 200, first.text
    assert REPLAYED not in first.headers
    originals = stored_originals(stack)

    again = post(client, body, key)
    assert again.status_code == 200, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()  # edit_id, polling_url and the edit_token
    rows = edits_with_prompt(stack, body["prompt"])
    assert len(rows) == 1
    token = again.json()["edit_token"]
    assert rows[0]["edit_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert stored_originals(stack) == originals
    scrape = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert 'mizual_idempotent_replays_total{route="/edit-image/"}' in scrape.text


def test_the_same_key_with_another_body_is_refused(client: httpx.Client) -> None:
    body, key = tagged_body(), new_key()
    assert post(client, body, key).status_code == 200
    other = {**body, "prompt": body["prompt"] + " and flip it"}
    assert_error(post(client, other, key), 422, "invalid_input", "Idempotency-Key", "different")


def test_keys_are_per_client_address(stack: Stack, client: httpx.Client) -> None:
    body, key = tagged_body(), new_key()
    first = post(client, body, key)
    with stack.client() as someone_else:
        theirs = post(someone_else, body, key)
    assert theirs.status_code == 200, theirs.text
    assert REPLAYED not in theirs.headers
    assert theirs.json()["edit_id"] != first.json()["edit_id"]
    assert len(edits_with_prompt(stack, body["prompt"])) == 2


def test_a_failed_request_is_not_kept(client: httpx.Client) -> None:
    body, key = tagged_body(), new_key()
    broken = {**body, "image": "data:image/jpeg;base64,bm90IGFuIGltYWdl"}
    assert post(client, broken, key).status_code in (415, 422)
    # The key is free again: the right body runs, it is not "another body".
    fixed = post(client, body, key)
    assert fixed.status_code == 200, fixed.text
    assert REPLAYED not in fixed.headers


@pytest.mark.parametrize("value", ["x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_refused(client: httpx.Client, value: str) -> None:
    response = client.post(
        "/edit-image/", json=tagged_body(), headers={"Idempotency-Key": value.encode("latin-1")}
    )
    assert_error(response, 422, "invalid_input", "Idempotency-Key", "printable ASCII")


def test_a_replay_spends_no_budget_and_is_answered_once_it_is_spent(
    stack: Stack, own_api: Callable[..., MizualServer]
) -> None:
    server = own_api(RATE_LIMIT_DAILY_IMAGES="1")
    body, key = tagged_body(), new_key()
    with client_of(server, f"10.201.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}") as client:
        first = post(client, body, key)
        assert first.status_code == 200, first.text
        for _ in range(3):  # the day's one edit is spent, and replays still answer
            again = post(client, body, key)
            assert again.status_code == 200, again.text
            assert again.json() == first.json()
        assert_error(post(client, tagged_body(), new_key()), 429, "rate_limited")
        assert post(client, body, key).json() == first.json()


def test_feedback_is_replayed_without_spending_its_rate_limit(
    stack: Stack, client: httpx.Client
) -> None:
    edit_id = edit_and_wait(client, "make it a bit brighter", jpeg_bytes(64, 48))["uuid"]
    rating, key = {"edit_uuid": edit_id, "rating": 1}, new_key()
    first = client.post("/feedback/", json=rating, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    # POST /feedback/ allows 5 a minute: these 6 replays would exceed it if they counted.
    for _ in range(6):
        again = client.post("/feedback/", json=rating, headers={"Idempotency-Key": key})
        assert again.status_code == 200, again.text
        assert again.headers[REPLAYED] == "true"
        assert again.json() == first.json()
    assert_error(client.post("/feedback/", json=rating), 409, "conflict", "already given")
    assert len(stack.rows("SELECT id FROM edit_feedback WHERE id = ?", first.json()["id"])) == 1


def test_a_replay_after_a_restart(stack: Stack, own_api: Callable[..., MizualServer]) -> None:
    server = own_api()
    body, key, address = tagged_body(), new_key(), "10.202.0.7"
    with client_of(server, address) as client:
        first = post(client, body, key)
    assert first.status_code == 200, first.text
    server.stop()
    server.start()  # the same data folder (embedded) or the same database (distributed)
    with client_of(server, address) as client:
        again = post(client, body, key)
    assert again.status_code == 200, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()


def test_parallel_requests_with_one_key_make_one_edit(
    stack: Stack, own_api: Callable[..., MizualServer]
) -> None:
    """Each waits for the one that claimed the key and gets its answer (a 409 only if that
    took more than 10 s). Distributed: the requests are split between two API processes."""
    servers = [stack.api] if stack.mode == "embedded" else [stack.api, own_api()]
    body, key, address = tagged_body(), new_key(), f"10.203.{uuid.uuid4().int % 250}.9"
    start = threading.Barrier(8)

    def send(number: int) -> httpx.Response:
        with client_of(servers[number % len(servers)], address) as client:
            start.wait()
            return post(client, body, key)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))

    assert all(answer.status_code in (200, 409) for answer in answers), [
        answer.text for answer in answers
    ]
    succeeded = [answer for answer in answers if answer.status_code == 200]
    assert len({answer.json()["edit_id"] for answer in succeeded}) == 1
    assert sum(REPLAYED not in answer.headers for answer in succeeded) == 1
    assert len(succeeded) == 8  # a submission takes far less than the 10 s a request waits
    assert len(edits_with_prompt(stack, body["prompt"])) == 1
