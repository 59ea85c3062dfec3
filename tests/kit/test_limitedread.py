"""kit.limitedread: one request of a rate limit spent and one cache entry read, in one step, on
real Redis and in memory; the same windows `limits` keeps, whoever spends them."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time

import pytest
import redis
from starlette.responses import JSONResponse

from mizual.errors import RateLimited
from mizual.kit.cache import MemoryCache
from mizual.kit.limitedread import LimitedRead
from mizual.kit.ratelimit import RateLimiter, Rule
from mizual.kit.rediscache import RedisCache
from tests.support import free_port

RULE = Rule.of("status", "5/minute", "at most 5 status checks a minute")
ROOMY = Rule.of("status", "50/minute", "at most 50 status checks a minute")
VIEW = {"uuid": "e1", "status": "processing", "prompt": "warm ünïcode up"}


def parts(store: str, url: str) -> tuple[RateLimiter, MemoryCache | RedisCache]:
    """The limiter and the cache; "redis" reads through the pipelined connection, "redis-pool"
    through redis-py's pool (as with a Unix socket)."""
    if store == "memory":
        return RateLimiter(key_prefix="t"), MemoryCache()
    return RateLimiter(url, key_prefix="t"), RedisCache(url)


@pytest.fixture(params=["memory", "redis", "redis-pool"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(store: str, request: pytest.FixtureRequest) -> str:
    return "" if store == "memory" else str(request.getfixturevalue("redis_url"))


def test_each_call_spends_one_request_of_the_window_limits_keeps(store: str, url: str) -> None:
    limiter, cache = parts(store, url)
    read = LimitedRead(limiter, cache, pipelined=store != "redis-pool")

    async def scenario() -> None:
        for _ in range(5):
            assert await read(RULE, "203.0.113.9", "status:e1") is not None
        # The limiter's own operations see the five requests: the window is full.
        with pytest.raises(RateLimited) as refused:
            limiter.check(RULE, "203.0.113.9")
        assert 1 <= refused.value.retry_after <= 60
        with pytest.raises(RateLimited) as refused:
            await read(RULE, "203.0.113.9", "status:e1")
        assert "at most 5 status checks a minute" in str(refused.value)
        assert 1 <= refused.value.retry_after <= 60
        # Another client has a window of its own.
        assert await read(RULE, "203.0.113.10", "status:e1") is not None
        await closed(limiter, cache)

    asyncio.run(scenario())


def test_the_entry_comes_back_as_the_json_the_cache_holds(store: str, url: str) -> None:
    limiter, cache = parts(store, url)
    read = LimitedRead(limiter, cache, pipelined=store != "redis-pool")

    async def scenario() -> None:
        spent = await read(ROOMY, "c", "status:e1")
        assert spent is not None
        assert spent.payload is None
        cache.put_versioned("status:e1", VIEW, version=3, ttl_seconds=30, fill=False)
        spent = await read(ROOMY, "c", "status:e1")
        assert spent is not None
        assert spent.payload is not None
        assert json.loads(spent.payload) == VIEW
        # Byte for byte what Starlette's JSONResponse renders of it (UTF-8, no spaces).
        assert spent.payload == JSONResponse(VIEW).body
        assert cache.get("status:e1") == VIEW  # read, not taken
        again = await read(ROOMY, "c", "status:e1")
        assert again is not None
        assert again.payload == spent.payload
        newer = {**VIEW, "status": "completed"}
        cache.put_versioned("status:e1", newer, version=4, ttl_seconds=30, fill=False)
        spent = await read(ROOMY, "c", "status:e1")
        assert spent is not None
        assert spent.payload is not None
        assert json.loads(spent.payload) == newer  # a new value is a new JSON text
        cache.set("status:e1", "changing", ttl_seconds=10)
        spent = await read(ROOMY, "c", "status:e1")
        assert spent is not None
        assert spent.payload == b'"changing"'
        await closed(limiter, cache)

    asyncio.run(scenario())


@pytest.mark.parametrize("pipelined", [True, False])
def test_an_entry_of_an_earlier_redis_run_is_a_miss(redis_url: str, pipelined: bool) -> None:
    limiter, cache = parts("redis", redis_url)
    read = LimitedRead(limiter, cache, pipelined=pipelined)

    async def scenario() -> None:
        await read(RULE, "c", "status:e1")  # connected: the run is known
        redis.Redis.from_url(redis_url).set(cache.store_key("status:e1"), b"0badc0de|3|{}")
        spent = await read(RULE, "c", "status:e1")
        assert spent is not None
        assert spent.payload is None
        await closed(limiter, cache)

    asyncio.run(scenario())


@pytest.mark.parametrize("pipelined", [True, False])
def test_redis_unreachable_spends_nothing_and_says_so_with_none(
    caplog: pytest.LogCaptureFixture, pipelined: bool
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}"
    limiter, cache = parts("redis", nowhere)
    read = LimitedRead(limiter, cache, pipelined=pipelined)
    started = time.monotonic()
    assert asyncio.run(read(RULE, "c", "status:e1")) is None
    assert time.monotonic() - started < 5
    assert "rate-limit store failed" in caplog.text


async def closed(limiter: RateLimiter, cache: MemoryCache | RedisCache) -> None:
    await limiter.aclose()
    await cache.aclose()


def _spend(url: str, calls: int, allowed: multiprocessing.Queue[int]) -> None:
    limiter, cache = parts("redis", url)
    rule = Rule.of("status", "30/minute", "at most 30 status checks a minute")
    read = LimitedRead(limiter, cache)

    async def run() -> int:
        count = 0
        for _ in range(calls):
            try:
                await read(rule, "198.51.100.7", "status:e1")
                count += 1
            except RateLimited:
                pass
        return count

    async def counted() -> int:
        count = await run()
        await closed(limiter, cache)
        return count

    allowed.put(asyncio.run(counted()))


def test_processes_spending_at_once_get_exactly_the_allowance_between_them(
    redis_url: str,
) -> None:
    context = multiprocessing.get_context("spawn")
    allowed: multiprocessing.Queue[int] = context.Queue()
    processes = [context.Process(target=_spend, args=(redis_url, 25, allowed)) for _ in range(4)]
    for process in processes:
        process.start()
    counts = [allowed.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert sum(counts) == 30, counts  # 100 requests at once, 30 allowed in all
