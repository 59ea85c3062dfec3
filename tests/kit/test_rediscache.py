"""The status cache's two guarantees, against a real Redis and the in-memory cache alike: a
version never replaces a newer one, and nothing written before a Redis restart is served; and
the write that also publishes the status to its event streams."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
import redis

from mizual.kit.broadcast import Broadcast
from mizual.kit.cache import Cache, MemoryCache
from mizual.kit.rediscache import RedisCache

TTL = 30


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    built = RedisCache(request.getfixturevalue("redis_url"))
    yield built
    built.close()


def test_an_older_version_never_replaces_a_newer_one(cache: Cache) -> None:
    assert cache.put_versioned("k", {"stage": "ai"}, version=5, ttl_seconds=TTL, fill=False)
    assert not cache.put_versioned("k", {"stage": "init"}, version=3, ttl_seconds=TTL, fill=False)
    assert not cache.put_versioned("k", {"stage": "init"}, version=4, ttl_seconds=TTL, fill=True)
    assert cache.get("k") == {"stage": "ai"}
    assert cache.put_versioned("k", {"stage": "done"}, version=6, ttl_seconds=TTL, fill=True)
    assert cache.get("k") == {"stage": "done"}


def test_a_fill_leaves_the_changing_marker_and_a_write_replaces_it(cache: Cache) -> None:
    cache.set("k", "changing", ttl_seconds=TTL)
    assert not cache.put_versioned("k", {"v": 1}, version=1, ttl_seconds=TTL, fill=True)
    assert cache.get("k") == "changing"
    assert cache.put_versioned("k", {"v": 2}, version=2, ttl_seconds=TTL, fill=False)
    assert cache.get("k") == {"v": 2}


def test_parallel_writers_leave_the_newest_version(cache: Cache) -> None:
    """40 writers in threads, versions in a shuffled order: the newest one stays."""
    versions = list(range(1, 41))
    order = versions[::2] + versions[1::2]
    start = threading.Barrier(len(order))

    def write(version: int) -> None:
        start.wait()
        cache.put_versioned("k", {"v": version}, version=version, ttl_seconds=TTL, fill=True)

    threads = [threading.Thread(target=write, args=(version,)) for version in order]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get("k") == {"v": 40}


def test_an_entry_from_before_a_redis_restart_is_a_miss_and_is_replaced(redis_url: str) -> None:
    """As Redis restored from its append-only file gives it back: stamped with the run of the
    server that wrote it, which is not the run this process is connected to."""
    cache = RedisCache(redis_url)
    try:
        assert cache.put_versioned("k", {"stage": "done"}, version=9, ttl_seconds=TTL, fill=False)
        plain = redis.Redis.from_url(redis_url)
        # What a server restarted from its AOF holds: an older state, from its previous run.
        plain.set("c2:k", b"0123456789abcdef0123456789abcdef01234567|7|" + b'{"stage":"ai"}')
        assert cache.get("k") is None  # never served
        assert cache.get_many(["k"]) == [None]
        # A reader's fill from the database replaces it, though its version is lower there.
        assert cache.put_versioned("k", {"stage": "done"}, version=9, ttl_seconds=TTL, fill=True)
        assert cache.get("k") == {"stage": "done"}
        plain.close()
    finally:
        cache.close()


def test_the_event_loop_reader_knows_the_server_run_too(redis_url: str) -> None:
    cache = RedisCache(redis_url)

    async def read() -> tuple[object, object]:
        first = await cache.aget("k")
        redis.Redis.from_url(redis_url).set("c2:k", b"f" * 40 + b'|1|{"v":0}')
        second = await cache.aget("k")
        await cache.aclose()
        return first, second

    try:
        cache.put_versioned("k", {"v": 1}, version=1, ttl_seconds=TTL, fill=False)
        assert asyncio.run(read()) == ({"v": 1}, None)
    finally:
        cache.close()


def test_put_and_publish_announces_what_it_stored_after_storing_it(redis_url: str) -> None:
    """One script writes the status and publishes it: a subscriber gets the stored JSON, and
    the entry is there when the message arrives. An older version is published but not stored
    (as the separate write and publish did)."""
    cache = RedisCache(redis_url)
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.subscribe("test-events:k")
    assert listener.get_message(timeout=2)["type"] == "subscribe"  # type: ignore[index]
    try:
        newer = {"stage": "ai", "prompt": "café ☕, warmer light"}
        assert cache.put_and_publish(
            "k", newer, version=2, ttl_seconds=TTL, channel="test-events:k"
        )
        message = listener.get_message(timeout=2)
        assert message is not None
        assert message["type"] == "message"
        assert json.loads(message["data"]) == newer
        assert cache.get("k") == newer

        older = {"stage": "init"}
        assert not cache.put_and_publish(
            "k", older, version=1, ttl_seconds=TTL, channel="test-events:k"
        )
        message = listener.get_message(timeout=2)
        assert message is not None
        assert json.loads(message["data"]) == older
        assert cache.get("k") == newer
    finally:
        listener.close()
        cache.close()


def test_a_broadcast_names_its_redis_channel_only_for_its_own_redis(redis_url: str) -> None:
    through_redis = Broadcast.from_url(redis_url, prefix="mizual:events:")
    in_process = Broadcast.from_url(None, prefix="mizual:events:")
    try:
        assert through_redis.redis_channel("e1", url=redis_url) == "mizual:events:e1"
        assert through_redis.redis_channel("e1", url="redis://127.0.0.1:1/0") is None
        assert in_process.redis_channel("e1", url=redis_url) is None
    finally:
        through_redis.close()
