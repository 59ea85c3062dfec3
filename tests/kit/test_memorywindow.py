"""The in-memory rate-limit store: counts as `limits` counts, sweeps without starting threads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mizual.errors import RateLimited
from mizual.kit.memorywindow import SWEEP_SECONDS, SweptMemoryStorage
from mizual.kit.ratelimit import RateLimiter, Rule


def _threads_started_by_hits(storage: MemoryStorage, monkeypatch: pytest.MonkeyPatch) -> int:
    """Threads started while 60 requests are counted over about 120 ms (limits' timer: 10 ms)."""
    strategy = MovingWindowRateLimiter(storage)
    limit = parse("1000/minute")
    time.sleep(0.05)  # the timer each store starts when it is made has run
    started = []
    original = threading.Thread.start

    def counting(thread: threading.Thread) -> None:
        started.append(thread)
        original(thread)

    monkeypatch.setattr(threading.Thread, "start", counting)
    for _ in range(60):
        assert strategy.hit(limit, "status", "203.0.113.7")
        time.sleep(0.002)
    monkeypatch.undo()
    return len(started)


def test_counting_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # The contrast shows the test can fail: limits' own store starts its sweeper again and again.
    assert _threads_started_by_hits(MemoryStorage(), monkeypatch) >= 3
    assert _threads_started_by_hits(SweptMemoryStorage(), monkeypatch) == 0


def test_expired_requests_are_dropped_by_a_later_count_with_the_default_cadence() -> None:
    storage = SweptMemoryStorage()
    strategy = MovingWindowRateLimiter(storage)
    short = parse("2/second")
    assert strategy.hit(short, "burst", "198.51.100.1")
    assert strategy.hit(short, "burst", "198.51.100.1")
    assert not strategy.hit(short, "burst", "198.51.100.1")
    (stale_key,) = storage.events
    time.sleep(max(SWEEP_SECONDS, 1.0) + 0.1)  # the window and the sweep cadence have passed
    assert strategy.hit(parse("5/minute"), "status", "198.51.100.2")
    assert storage.events[stale_key] == []  # its expired requests are gone
    assert strategy.hit(short, "burst", "198.51.100.1")  # the client's window is free again


def test_a_limit_holds_exactly_under_parallel_requests() -> None:
    limiter = RateLimiter("memory://")
    rule = Rule.of("status", "50/minute", "status checks")

    def attempt(_: int) -> bool:
        try:
            limiter.hit(rule, "192.0.2.9")
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = sum(pool.map(attempt, range(200)))
    assert allowed == 50
    with pytest.raises(RateLimited, match="Too many requests: status checks"):
        limiter.hit(rule, "192.0.2.9")
