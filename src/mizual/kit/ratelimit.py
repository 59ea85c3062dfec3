"""Rate limits per client and rule, on the `limits` library: in memory, or in Redis (shared)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio
from limits import RateLimitItem, WindowStats, parse
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindowRateLimiter
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from mizual.errors import RateLimited
from mizual.kit.memorywindow import SweptMemoryStorage
from mizual.kit.throttle import ThrottledWarning

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    name: str
    limit: RateLimitItem
    describe: str  # finishes "You have made too many requests ..." for a person

    @classmethod
    def of(cls, name: str, spec: str, describe: str) -> Rule:
        return cls(name=name, limit=parse(spec), describe=describe)


# The store refused a request, then failed to say when the window frees up: still a 429 (with
# the shortest wait), never a 500.
_UNKNOWN_WINDOW = WindowStats(reset_time=0.0, remaining=0)


class RateLimiter:
    """Limits per client. With Redis, every API process shares the counts.

    When the store cannot be reached, requests are allowed (and the failure logged): an outage
    of Redis must not take the whole API down with it.
    """

    def __init__(
        self,
        storage_uri: str = "memory://",
        *,
        key_prefix: str = "mizual",
        on_refusal: Callable[[str], None] | None = None,
    ) -> None:
        """`on_refusal(rule name)` is called for every request refused (to count them)."""
        self._on_refusal = on_refusal
        self.storage_uri = storage_uri
        self._key_prefix = key_prefix
        options: dict[str, Any] = {"key_prefix": key_prefix}
        self._async_pool: redis.asyncio.ConnectionPool | None = None
        self._async_strategy: AsyncMovingWindowRateLimiter | None = None
        if storage_uri.startswith(("redis://", "rediss://")):
            timeouts = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
            options |= timeouts
            # The same counts (same keys, same scripts) for `ahit` on the event loop; the pool
            # connects at its first use, so only on the loop of an API process.
            self._async_pool = redis.asyncio.ConnectionPool.from_url(storage_uri, **timeouts)
            # Typed as Any: limits annotates its options as scalars, though it takes a pool.
            pool: dict[str, Any] = {"connection_pool": self._async_pool}
            self._async_strategy = AsyncMovingWindowRateLimiter(
                AsyncRedisStorage(
                    f"async+{storage_uri}", implementation="redispy", key_prefix=key_prefix, **pool
                )
            )
        self._storage = (
            SweptMemoryStorage()
            if storage_uri == "memory://"
            else storage_from_string(storage_uri, **options)
        )
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._store_down = ThrottledWarning(logger)

    def check(self, rule: Rule, client: str) -> None:
        """Fail if the client has no request left under the rule, without spending one."""
        if not self._guarded(lambda: self._strategy.test(rule.limit, rule.name, client)):
            raise self._refusal(rule, client)

    def hit(self, rule: Rule, client: str) -> None:
        """Spend one request, or fail with the wait time if none is left."""
        if not self._guarded(lambda: self._strategy.hit(rule.limit, rule.name, client)):
            raise self._refusal(rule, client)

    async def ahit(self, rule: Rule, client: str) -> None:
        """`hit` for the event loop: in memory at once, in Redis without holding a thread."""
        if self._async_strategy is None:
            self.hit(rule, client)  # counted in this process's memory: no I/O
            return
        strategy = self._async_strategy
        try:
            allowed = await strategy.hit(rule.limit, rule.name, client)
        except Exception as exc:  # the store's client raises its own error types
            self._warn(exc)
            return
        if not allowed:
            raise await self.arefusal(rule, client)

    async def arefusal(self, rule: Rule, client: str) -> RateLimited:
        """The 429 for a request the rule refused: when the client's window frees up."""
        if self._async_strategy is None:
            return self._refusal(rule, client)
        try:
            stats = await self._async_strategy.get_window_stats(rule.limit, rule.name, client)
        except Exception as exc:
            self._warn(exc)
            stats = _UNKNOWN_WINDOW
        return self._refused(rule, stats)

    def store_key(self, rule: Rule, client: str) -> str:
        """The key of the client's moving window under the rule, as `limits` names it in Redis:
        a list of request timestamps, newest first (`refund` and `kit.limitedread` rely on
        that; tests/test_rate_limits.py holds `limits` to it)."""
        return f"{self._key_prefix}:{rule.limit.key_for(rule.name, client)}"

    def warn(self, exc: Exception) -> None:
        """A store failure met outside this class: logged as this class logs its own."""
        self._warn(exc)

    def spend(self, rule: Rule, client: str) -> None:
        """Count one request, whether or not the rule still allows it (nothing is refused)."""
        self._guarded(lambda: self._strategy.hit(rule.limit, rule.name, client))

    def refund(self, rule: Rule, client: str) -> None:
        """Give back the newest request `hit` counted: it was allowed, then failed on our side.

        `limits` has no such operation; in Redis its moving window is a list of timestamps,
        newest first (tests/test_rate_limits.py holds it to that); in memory the store is
        `SweptMemoryStorage`, which has one."""
        key = rule.limit.key_for(rule.name, client)
        storage = self._storage
        try:
            if isinstance(storage, RedisStorage):
                connection: Any = storage.get_connection()  # typed by limits as a protocol
                connection.lpop(storage.prefixed_key(key))
            elif isinstance(storage, SweptMemoryStorage):
                storage.remove_newest(key)
        except Exception as exc:  # the store's client raises its own error types
            logger.warning("rate-limit store failed; a failed request stays counted: %r", exc)

    def _guarded(self, decide: Callable[[], bool]) -> bool:
        try:
            return decide()
        except Exception as exc:  # the store's client raises its own error types
            self._warn(exc)
            return True

    def _warn(self, exc: Exception) -> None:
        self._store_down.warn("rate-limit store failed, allowing the request: %r", exc)

    def _refusal(self, rule: Rule, client: str) -> RateLimited:
        try:
            stats = self._strategy.get_window_stats(rule.limit, rule.name, client)
        except Exception as exc:
            self._warn(exc)
            stats = _UNKNOWN_WINDOW
        return self._refused(rule, stats)

    def _refused(self, rule: Rule, stats: WindowStats) -> RateLimited:
        if self._on_refusal is not None:
            self._on_refusal(rule.name)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        return RateLimited(
            f"Too many requests: {rule.describe}. Try again in {_human_wait(wait)}.",
            retry_after=wait,
            limit=rule.limit.amount,
        )

    def reset(self) -> None:
        self._storage.reset()

    async def aclose(self) -> None:
        """Close the connections `ahit` opened; on the event loop it ran on."""
        if self._async_pool is not None:
            await self._async_pool.aclose()


def _human_wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"
