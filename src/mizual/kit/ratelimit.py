"""Rate limits per client and rule, on the `limits` library: in memory, or in Redis (shared)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from mizual.errors import RateLimited

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    name: str
    limit: RateLimitItem
    describe: str  # finishes "You have made too many requests ..." for a person

    @classmethod
    def of(cls, name: str, spec: str, describe: str) -> Rule:
        return cls(name=name, limit=parse(spec), describe=describe)


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_after: int


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
        options: dict[str, Any] = {"key_prefix": key_prefix}
        if storage_uri.startswith(("redis://", "rediss://")):
            options |= {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        self._storage = storage_from_string(storage_uri, **options)
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._last_warning = 0.0

    def check(self, rule: Rule, client: str) -> None:
        """Fail if the client has no request left under the rule, without spending one."""
        if not self._guarded(lambda: self._strategy.test(rule.limit, rule.name, client)):
            raise self._refusal(rule, client)

    def hit(self, rule: Rule, client: str) -> None:
        """Spend one request, or fail with the wait time if none is left."""
        if not self._guarded(lambda: self._strategy.hit(rule.limit, rule.name, client)):
            raise self._refusal(rule, client)

    def spend(self, rule: Rule, client: str) -> None:
        """Count one request that has already been allowed (see `check`)."""
        self._guarded(lambda: self._strategy.hit(rule.limit, rule.name, client))

    def _guarded(self, decide: Callable[[], bool]) -> bool:
        try:
            return decide()
        except Exception as exc:  # the store's client raises its own error types
            now = time.monotonic()
            if now - self._last_warning > 30:
                self._last_warning = now
                logger.warning("rate-limit store failed, allowing the request: %r", exc)
            return True

    def _state(self, rule: Rule, client: str) -> RateState:
        stats = self._strategy.get_window_stats(rule.limit, rule.name, client)
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        return RateState(rule.limit.amount, stats.remaining, reset_after)

    def _refusal(self, rule: Rule, client: str) -> RateLimited:
        if self._on_refusal is not None:
            self._on_refusal(rule.name)
        state = self._state(rule, client)
        wait = max(1, state.reset_after)
        return RateLimited(
            f"Too many requests: {rule.describe}. Try again in {_human_wait(wait)}.",
            retry_after=wait,
            limit=state.limit,
        )

    def reset(self) -> None:
        self._storage.reset()


def _human_wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"
