"""A request whose key another request holds waits for that one's answer, up to 10 s, then
gets 409 with Retry-After. The holder is played by this test, claiming the key in the server's
database, so the wait is certain rather than a race."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from mizual.idempotency.repository import IdempotencyRepository, KeyId
from mizual.idempotency.service import (
    WAIT_SECONDS,
    Claimed,
    IdempotencyService,
    key_hash,
    request_hash,
)
from mizual.kit.db.engine import build_engine
from mizual.kit.db.timing import OperationTimings
from mizual.settings import load_settings
from tests.support import MizualServer, assert_error

ADDRESS = "10.77.0.1"
BODY = {"prompt": "make it brighter", "image": "data:image/jpeg;base64,AAAA"}


@pytest.fixture
def server(make_server: Callable[..., MizualServer]) -> MizualServer:
    return make_server({"TRUSTED_PROXIES": "127.0.0.1"})


@pytest.fixture
def service(server: MizualServer) -> Iterator[IdempotencyService]:
    engine = build_engine(load_settings(data_dir=server.data_dir, environment="preview"))
    yield IdempotencyService(repository=IdempotencyRepository(engine, OperationTimings()))
    engine.dispose()


def hold(service: IdempotencyService, key: str) -> tuple[KeyId, Claimed]:
    key_id = KeyId(scope=ADDRESS, route="/edit-image/", key_hash=key_hash(key))
    claimed = service.claim(key_id, request_hash=request_hash(BODY), raw_key=key)
    assert isinstance(claimed, Claimed)
    return key_id, claimed


def send(server: MizualServer, key: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.post(
            "/edit-image/",
            json=BODY,
            headers={"Idempotency-Key": key, "X-Forwarded-For": ADDRESS},
        )


def test_a_waiting_request_gets_the_holders_answer(
    server: MizualServer, service: IdempotencyService
) -> None:
    key = str(uuid.uuid4())
    key_id, claimed = hold(service, key)
    answer = {"edit_id": "e1", "polling_url": "/edit/e1", "edit_token": "secret"}
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(send, server, key)
        time.sleep(1)
        assert not waiting.done()
        service.complete(
            key_id,
            claim=claimed.claim,
            raw_key=key,
            status_code=200,
            body=answer,
            secret_fields=("edit_token",),
        )
        response = waiting.result()
    assert response.status_code == 200, response.text
    assert response.headers["Idempotent-Replayed"] == "true"
    assert response.json() == answer


def test_a_request_still_held_after_the_wait_is_409(
    server: MizualServer, service: IdempotencyService
) -> None:
    key = str(uuid.uuid4())
    hold(service, key)
    started = time.monotonic()
    response = send(server, key)
    waited = time.monotonic() - started
    assert_error(response, 409, "conflict", "still being processed; retry in a moment")
    assert response.headers["Retry-After"] == "1"
    assert WAIT_SECONDS <= waited < WAIT_SECONDS + 5


def test_a_released_claim_lets_the_waiting_request_run(
    server: MizualServer, service: IdempotencyService
) -> None:
    key = str(uuid.uuid4())
    key_id, claimed = hold(service, key)
    released = threading.Timer(1, lambda: service.release(key_id, claim=claimed.claim))
    released.start()
    response = send(server, key)  # then runs itself: its image is no image
    released.join()
    assert_error(response, 415, "unsupported_image_type")
