"""The cache in Redis, shared by every API process and worker.

Redis trouble never fails a request: reads count as misses and writes are skipped, with a
warning in the log, and callers fall back to the database.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
import redis.asyncio

from mizual.kit.throttle import ThrottledWarning

logger = logging.getLogger(__name__)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class RedisCache:
    def __init__(self, url: str, *, timeout_seconds: float = 0.5) -> None:
        options: dict[str, Any] = {
            "socket_timeout": timeout_seconds,
            "socket_connect_timeout": timeout_seconds,
            "health_check_interval": 30,
        }
        self._client = redis.Redis.from_url(url, **options)
        # For `aget`: connects at its first use, so only on the event loop of an API process.
        self._async_client = redis.asyncio.Redis.from_url(url, **options)
        self._redis_down = ThrottledWarning(logger)

    def get(self, key: str) -> Any | None:
        try:
            raw = self._client.get(key)
        except redis.RedisError as exc:
            self._warn("read", exc)
            return None
        return json.loads(raw) if raw is not None else None

    async def aget(self, key: str) -> Any | None:
        try:
            raw = await self._async_client.get(key)
        except redis.RedisError as exc:
            self._warn("read", exc)
            return None
        return json.loads(raw) if raw is not None else None

    def get_many(self, keys: list[str]) -> list[Any | None]:
        if not keys:
            return []
        try:
            raws = self._client.mget(keys)
        except redis.RedisError as exc:
            self._warn("read", exc)
            return [None] * len(keys)
        return [json.loads(raw) if raw is not None else None for raw in raws]

    def set(self, key: str, value: Any, *, ttl_seconds: int) -> None:
        try:
            self._client.set(key, _dump(value), ex=ttl_seconds)
        except redis.RedisError as exc:
            self._warn("write", exc)

    def add(self, key: str, value: Any, *, ttl_seconds: int) -> bool:
        try:
            return bool(self._client.set(key, _dump(value), ex=ttl_seconds, nx=True))
        except redis.RedisError as exc:
            self._warn("write", exc)
            return False

    def delete(self, key: str) -> None:
        try:
            self._client.delete(key)
        except redis.RedisError as exc:
            self._warn("delete", exc)

    def stats(self) -> dict[str, Any]:
        try:
            info = self._client.info()
        except redis.RedisError as exc:
            return {"backend": "redis", "error": f"Redis is not reachable ({type(exc).__name__})"}
        hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
        return {
            "backend": "redis",
            "connected_clients": info.get("connected_clients", 0),
            "used_memory_human": info.get("used_memory_human", "0B"),
            "keyspace_hits": hits,
            "keyspace_misses": misses,
            "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
            "errors_seen_by_this_process": self.errors,
        }

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await self._async_client.aclose()

    @property
    def errors(self) -> int:
        return self._redis_down.occurrences

    def _warn(self, action: str, exc: redis.RedisError) -> None:
        self._redis_down.warn(
            "cache %s failed, answering from the database: %s", action, type(exc).__name__
        )
