"""The rules of idempotency keys on SQLite and PostgreSQL: claim, replay, a different body,
waiting, stale claims and expiry, the sweep, and what is stored (hashes, a sealed token)."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from mizual.errors import InvalidInput
from mizual.idempotency.repository import IdempotencyRepository, KeyId
from mizual.idempotency.service import (
    Busy,
    Claimed,
    IdempotencyService,
    Replay,
    key_hash,
    parse_key,
    request_hash,
)
from mizual.kit.db.engine import build_engine
from mizual.kit.db.migrate import upgrade
from mizual.kit.db.tables import idempotency_keys, utcnow
from mizual.kit.db.timing import OperationTimings
from mizual.settings import load_settings

RAW_KEY = "0b6f2f6e-5d8e-4c53-9a57-2f1b8f3c1d11"
ANSWER = {"edit_id": "e1", "polling_url": "/edit/e1", "edit_token": secrets.token_urlsafe(32)}


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def engine(database_options: dict[str, str], tmp_path: Path) -> Iterator[Engine]:
    settings = load_settings(data_dir=tmp_path, environment="preview", **database_options)
    built = build_engine(settings)
    upgrade(built, schema=settings.database_schema)
    yield built
    built.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(engine: Engine, clock: Clock) -> IdempotencyService:
    return IdempotencyService(
        repository=IdempotencyRepository(engine, OperationTimings()), clock=clock
    )


def key(scope: str = "10.0.0.1", route: str = "/edit-image/") -> KeyId:
    return KeyId(scope=scope, route=route, key_hash=key_hash(RAW_KEY))


def claim(service: IdempotencyService, body: object, on: KeyId | None = None) -> object:
    return service.claim(on or key(), request_hash=request_hash(body), raw_key=RAW_KEY)


def answered(service: IdempotencyService, body: object) -> None:
    claimed = claim(service, body)
    assert isinstance(claimed, Claimed)
    assert service.complete(
        key(),
        claim=claimed.claim,
        raw_key=RAW_KEY,
        status_code=200,
        body=ANSWER,
        secret_fields=("edit_token",),
    )


def test_the_same_body_is_replayed_with_the_token(service: IdempotencyService) -> None:
    answered(service, {"prompt": "flip it", "image": "data:..."})
    # The same JSON, re-serialised with other spacing and order, is the same request.
    again = json.loads('{ "image" : "data:...",  "prompt":"flip it" }')
    assert claim(service, again) == Replay(200, ANSWER)


def test_a_different_body_is_refused(service: IdempotencyService) -> None:
    answered(service, {"prompt": "flip it"})
    with pytest.raises(InvalidInput, match="different body"):
        claim(service, {"prompt": "flop it"})


def test_a_different_body_is_refused_while_the_first_runs(service: IdempotencyService) -> None:
    assert isinstance(claim(service, {"prompt": "flip it"}), Claimed)
    with pytest.raises(InvalidInput, match="different body"):
        claim(service, {"prompt": "flop it"})


def test_keys_are_scoped_by_client_and_route(service: IdempotencyService) -> None:
    answered(service, {"prompt": "flip it"})
    assert isinstance(claim(service, {"prompt": "flip it"}, key(scope="10.0.0.2")), Claimed)
    assert isinstance(claim(service, {"prompt": "flip it"}, key(route="/feedback/")), Claimed)


def test_a_running_claim_makes_others_wait_until_it_is_stale(
    service: IdempotencyService, clock: Clock
) -> None:
    body = {"prompt": "flip it"}
    first = claim(service, body)
    assert isinstance(first, Claimed)
    assert claim(service, body) == Busy()
    assert service.is_live(key())
    clock.advance(seconds=61)  # the first request's process died
    assert not service.is_live(key())
    second = claim(service, body)
    assert isinstance(second, Claimed)
    # The first, should it wake up, can neither answer nor release its successor's claim.
    assert not service.complete(key(), claim=first.claim, raw_key=RAW_KEY, status_code=200, body={})
    service.release(key(), claim=first.claim)
    assert claim(service, body) == Busy()


def test_a_released_claim_lets_the_retry_run_afresh(service: IdempotencyService) -> None:
    body = {"prompt": "flip it"}
    first = claim(service, body)
    assert isinstance(first, Claimed)
    service.release(key(), claim=first.claim)
    assert isinstance(claim(service, body), Claimed)


def test_an_answer_expires_after_24_hours(service: IdempotencyService, clock: Clock) -> None:
    answered(service, {"prompt": "flip it"})
    clock.advance(hours=23, minutes=59)
    assert isinstance(claim(service, {"prompt": "flip it"}), Replay)
    clock.advance(minutes=2)
    # Expired: ignored, whatever the body, and the key is taken over.
    assert isinstance(claim(service, {"prompt": "flop it"}), Claimed)


def test_the_sweep_deletes_only_expired_keys(
    service: IdempotencyService, clock: Clock, engine: Engine
) -> None:
    answered(service, {"prompt": "flip it"})
    clock.advance(hours=12)
    assert isinstance(claim(service, {"n": 1}, key(scope="10.0.0.9")), Claimed)
    clock.advance(hours=12, seconds=1)
    assert service.sweep() == 1
    with engine.connect() as conn:
        scopes = conn.execute(select(idempotency_keys.c.scope)).scalars().all()
    assert scopes == ["10.0.0.9"]


def test_only_hashes_and_a_sealed_token_are_stored(
    service: IdempotencyService, engine: Engine
) -> None:
    answered(service, {"prompt": "flip it"})
    with engine.connect() as conn:
        row = conn.execute(select(idempotency_keys)).one()._mapping
    stored = json.dumps({name: str(value) for name, value in row.items()})
    assert RAW_KEY not in stored
    assert ANSWER["edit_token"] not in stored
    assert row["key_hash"] == key_hash(RAW_KEY)
    assert row["response"]["body"] == {"edit_id": "e1", "polling_url": "/edit/e1"}
    sealed = row["response"]["sealed"]["edit_token"]
    assert sealed != ANSWER["edit_token"].encode().hex()
    assert len(sealed) == 2 * len(ANSWER["edit_token"])


def test_parallel_claims_have_one_winner(engine: Engine) -> None:
    repository = IdempotencyRepository(engine, OperationTimings())
    services = [IdempotencyService(repository=repository) for _ in range(8)]
    outcomes: list[object] = []
    start = threading.Barrier(len(services))

    def run(one: IdempotencyService) -> None:
        start.wait()
        outcomes.append(claim(one, {"prompt": "flip it"}))

    threads = [threading.Thread(target=run, args=(one,)) for one in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(outcome, Claimed) for outcome in outcomes) == 1
    assert sum(outcome == Busy() for outcome in outcomes) == 7


def test_the_request_hash_is_canonical_json() -> None:
    value = {"b": [1, 2.5, None, True], "a": 'é\u2028😀"\\', "c": {"z": 1, "y": "x" * 3_000_000}}
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    import hashlib

    assert request_hash(value) == hashlib.sha256(canonical).hexdigest()
    assert request_hash({"a": 1}) != request_hash({"a": 1.0})


@pytest.mark.parametrize("value", ["", "x" * 256, "caf\u00e9", "tab\there", "new\nline"])
def test_a_malformed_key_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput, match="Idempotency-Key: must be 1 to 255 printable ASCII"):
        parse_key(value)


def test_a_key_of_printable_ascii_is_accepted() -> None:
    assert parse_key("x" * 255) == "x" * 255
    assert parse_key("a b~!") == "a b~!"
