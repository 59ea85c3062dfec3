"""Spend one request of a rate limit and read one cache entry, in one Redis round trip.

A status poll does both on every request; with the limiter and the cache on the same Redis they
go in one script, which is the moving-window step of `limits` (the same list, the same
timestamps, so `RateLimiter.check`, `refund` and the window stats see these requests) followed
by a GET, sent on one pipelined connection (`kit.leanredis`). In memory both are dictionary
look-ups. The entry comes back as the JSON text the cache holds, for a caller that sends it on
as it is.

Redis trouble is what `RateLimiter` and `RedisCache` make of it: the request is allowed and the
read is a miss, with a throttled warning.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import redis
from redis.exceptions import NoScriptError

from mizual.kit.cache import Cache
from mizual.kit.leanredis import PipelinedRedis
from mizual.kit.ratelimit import RateLimiter, Rule
from mizual.kit.rediscache import RedisCache

# KEYS[1]: the client's moving window (a list of timestamps, newest first), KEYS[2]: the cache
# entry. ARGV: now, the allowance, the window in seconds. Answers {0} when the window is full,
# {1} for an allowed request and a missing entry, {1, entry} otherwise. The first half is
# `limits`' acquire_moving_window.lua for one request.
_HIT_AND_GET = """
local timestamp = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local oldest = redis.call('LINDEX', KEYS[1], limit - 1)
if oldest and tonumber(oldest) >= timestamp - expiry then
  return {0}
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('EXPIRE', KEYS[1], expiry)
local entry = redis.call('GET', KEYS[2])
if entry then
  return {1, entry}
end
return {1}
"""


_WINDOW_KEYS_KEPT = 10_000
_ENCODED_KEPT = 2_000  # the edits polled lately; each holds one view (about 1 KB)


class Spent:
    """The request was counted (and allowed); `payload` is the entry's JSON, None on a miss."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes | None) -> None:
        self.payload = payload


class LimitedRead:
    def __init__(self, limiter: RateLimiter, cache: Cache, *, pipelined: bool = True) -> None:
        """`pipelined`: Redis through `kit.leanredis` where the URL allows (plain TCP,
        redis://); otherwise, and for TLS or a Unix socket, through the cache's redis-py
        client."""
        self._limiter = limiter
        self._cache = cache
        self._redis: RedisCache | None = None
        self._pipelined: PipelinedRedis | None = None
        if isinstance(cache, RedisCache) and limiter.storage_uri == cache.url:
            self._redis = cache
            if pipelined and PipelinedRedis.supports(cache.url):
                self._pipelined = PipelinedRedis(cache.url)
        # Redis names a script by its SHA-1 (EVALSHA): an identifier, not a security measure.
        self._sha = hashlib.sha1(_HIT_AND_GET.encode(), usedforsecurity=False).hexdigest()
        # The window's key of each client seen lately: built by `limits` for every request.
        self._window_keys: dict[tuple[str, str], str] = {}
        # In memory: each entry's value and its JSON, for as long as the cache holds that value.
        self._encoded: dict[str, tuple[Any, bytes]] = {}

    async def __call__(self, rule: Rule, client: str, key: str) -> Spent | None:
        """Spend one request of `rule` for `client` (RateLimited when none is left) and read the
        cache entry `key`. None when the store failed before counting: nothing was spent."""
        cache, redis_cache = self._cache, self._redis
        if redis_cache is None:
            await self._limiter.ahit(rule, client)
            if isinstance(cache, RedisCache):
                return Spent(await _payload_of(cache, key))
            return Spent(self._json_of(key, cache.get(key)))
        limit = rule.limit
        args = (
            self._window_key(rule, client),
            redis_cache.store_key(key),
            time.time(),
            limit.amount,
            limit.get_expiry(),
        )
        try:
            answer, server_run = await self._hit_and_get(redis_cache, args)
        except redis.RedisError as exc:
            self._limiter.warn(exc)
            return None
        if not answer[0]:
            raise await self._limiter.arefusal(rule, client)
        if len(answer) < 2:
            return Spent(None)
        return Spent(redis_cache.payload(answer[1], server_run=server_run))

    async def _hit_and_get(
        self, cache: RedisCache, args: tuple[Any, ...]
    ) -> tuple[Any, str | None]:
        """The script's answer, and the run of the server that gave it (None: the cache's)."""
        pipelined = self._pipelined
        if pipelined is None:
            connection = cache.async_client
            try:
                return await connection.evalsha(self._sha, 2, *args), None
            except NoScriptError:  # a new or restarted server: loaded once, then by its sha
                self._sha = await connection.script_load(_HIT_AND_GET)
                return await connection.evalsha(self._sha, 2, *args), None
        try:
            answer = await pipelined.call("EVALSHA", self._sha, 2, *args)
        except NoScriptError:
            self._sha = (await pipelined.call("SCRIPT", "LOAD", _HIT_AND_GET)).decode()
            answer = await pipelined.call("EVALSHA", self._sha, 2, *args)
        return answer, pipelined.server_run

    async def aclose(self) -> None:
        if self._pipelined is not None:
            await self._pipelined.aclose()

    def _json_of(self, key: str, value: Any) -> bytes | None:
        """The in-memory cache's value as JSON, encoded once per value: the cache hands out the
        object it holds until a change replaces it, and the one kept here keeps its identity."""
        if value is None:
            return None
        held = self._encoded.get(key)
        if held is not None and held[0] is value:
            return held[1]
        if len(self._encoded) >= _ENCODED_KEPT:
            self._encoded.clear()
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        self._encoded[key] = (value, encoded)
        return encoded

    def _window_key(self, rule: Rule, client: str) -> str:
        key = self._window_keys.get((rule.name, client))
        if key is None:
            if len(self._window_keys) >= _WINDOW_KEYS_KEPT:
                self._window_keys.clear()
            key = self._window_keys[rule.name, client] = self._limiter.store_key(rule, client)
        return key


async def _payload_of(cache: RedisCache, key: str) -> bytes | None:
    try:
        raw = await cache.async_client.get(cache.store_key(key))
    except redis.RedisError:
        return None  # a miss: the regular read then meets (and reports) the same trouble
    return cache.payload(raw)
