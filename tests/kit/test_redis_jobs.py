"""Jobs written to a Redis broker without Celery (kit/queue/redis_jobs.py): the message is the one
Celery writes, the API process never imports Celery for it, and a broker that is down is an error
within about a second. Real Celery workers run these jobs in every distributed test
(tests/test_distributed.py and the contract suite), since the API sends all its jobs this way."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest
import redis

from mizual.kit.queue.celery_queue import CeleryQueue
from mizual.kit.queue.redis_jobs import PRIORITY_SUFFIXES, RedisJobs, key_prefix
from mizual.settings import load_settings
from tests.support import free_port

# Fresh in each message; everything else must be what Celery writes.
_PER_MESSAGE = {("headers", "id"), ("headers", "root_id"), ("headers", "origin")}
_PER_MESSAGE |= {("properties", "correlation_id"), ("properties", "delivery_tag")}
_PER_MESSAGE |= {("properties", "reply_to")}  # Celery's app id; no results are ever sent to it


def _queued(url: str) -> list[dict[str, Any]]:
    """The broker's waiting jobs, oldest first."""
    client = redis.Redis.from_url(url)
    raw = client.lrange(f"{key_prefix('production')}celery", 0, -1)
    client.close()
    return [json.loads(item) for item in reversed(raw)]


def _without_per_message_fields(message: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(message))
    for section, field in _PER_MESSAGE:
        copy[section].pop(field)
    return copy


def _edit_of(message: dict[str, Any]) -> str:
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert kwargs == {}
    return str(args[0])


def test_the_job_is_the_message_celery_itself_writes(redis_url: str) -> None:
    settings = load_settings(celery_broker_url=redis_url)
    edit = uuid4()
    queue = CeleryQueue(settings)
    try:
        queue.dispatch(edit)  # without Celery
        # Celery's own producer, configured as the workers are.
        queue.app.send_task("mizual.process_edit", args=[str(edit)], ignore_result=True)
    finally:
        queue.close()
    ours, celerys = _queued(redis_url)
    assert _without_per_message_fields(ours) == _without_per_message_fields(celerys)
    assert _edit_of(ours) == _edit_of(celerys) == str(edit)
    headers, properties = ours["headers"], ours["properties"]
    assert headers["id"] == headers["root_id"] == properties["correlation_id"]
    assert ours["headers"]["origin"] == f"gen{os.getpid()}@{os.uname().nodename}"
    # The queue is bound as Celery's producer binds it, before any worker has started.
    client = redis.Redis.from_url(redis_url)
    for key in ("_kombu.binding.celery", "_kombu.binding_permanent.celery"):
        assert client.smembers(f"production:celery:{key}") == {b"celery\x06\x16\x06\x16celery"}
    client.close()


_SENDER = """
import sys
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID
from mizual.kit.queue.redis_jobs import RedisJobs

jobs = RedisJobs(sys.argv[1], environment="production")
with ThreadPoolExecutor(max_workers=4) as pool:
    list(pool.map(jobs.send, [UUID(edit) for edit in sys.argv[2:]]))
jobs.close()
"""


def test_parallel_dispatches_across_processes_each_queue_one_distinct_job(redis_url: str) -> None:
    edits = [str(uuid4()) for _ in range(300)]
    # Two other processes with 4 threads each, and 8 threads here, all at once.
    others = [
        subprocess.Popen([sys.executable, "-c", _SENDER, redis_url, *edits[n:300:3]])
        for n in (1, 2)
    ]
    jobs = RedisJobs(redis_url, environment="production")
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(jobs.send, [UUID(edit) for edit in edits[0:300:3]]))
        assert [other.wait(timeout=60) for other in others] == [0, 0]
        assert jobs.lengths() == {"waiting": 300, "unacknowledged": 0}
    finally:
        jobs.close()
    queued = _queued(redis_url)
    assert sorted(_edit_of(message) for message in queued) == sorted(edits)
    assert len({message["headers"]["id"] for message in queued}) == 300
    assert len({message["properties"]["delivery_tag"] for message in queued}) == 300
    assert len({message["headers"]["origin"] for message in queued}) == 3  # one per process


def test_lengths_count_every_priority_list_and_the_unacknowledged(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = key_prefix("staging")
    for n, suffix in enumerate(PRIORITY_SUFFIXES):
        client.lpush(f"{prefix}celery{suffix}", *[b"job"] * (n + 1))
    client.hset(f"{prefix}unacked", mapping={"a": b"1", "b": b"2"})
    client.lpush(f"{key_prefix('production')}celery", b"another deployment's job")
    jobs = RedisJobs(redis_url, environment="staging")
    try:
        assert jobs.lengths() == {"waiting": 1 + 2 + 3 + 4, "unacknowledged": 2}
    finally:
        jobs.close()
        client.close()


def test_a_broker_that_is_down_is_an_error_after_three_tries_within_about_a_second() -> None:
    slept: list[float] = []
    jobs = RedisJobs(f"redis://127.0.0.1:{free_port()}/0", environment="production")
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        jobs.send(uuid4())
    elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 3, elapsed  # the default schedule: tries at 0, 0.3 and 0.8 s
    recorded = RedisJobs(
        f"redis://127.0.0.1:{free_port()}/0", environment="production", sleep=slept.append
    )
    with pytest.raises(redis.ConnectionError):
        recorded.send(uuid4())
    assert slept == [0.3, 0.5]
    # The queue counts nothing rather than failing a metrics scrape.
    settings = load_settings(celery_broker_url=f"redis://127.0.0.1:{free_port()}/0")
    assert CeleryQueue(settings).stats() == {}


_PROBE = """
import sys
from uuid import uuid4
from mizual.app import create_app
from mizual.kit.queue.celery_queue import CeleryQueue
from mizual.runtime import Role
from mizual.settings import load_settings

settings = load_settings(distributed=True, celery_broker_url=sys.argv[1])
create_app(settings, role=Role.API)
queue = CeleryQueue(settings)
queue.dispatch(uuid4())
loaded = {name.split(".")[0] for name in sys.modules}
print(queue.stats()["waiting"], sorted(loaded & {"celery", "kombu"}))
"""


def test_an_api_process_with_a_redis_broker_never_imports_celery(redis_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://127.0.0.1:1/unused"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, redis_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=1) == ["1", "[]\n"], done.stdout
    (message,) = _queued(redis_url)
    UUID(_edit_of(message))
