"""The in-memory rate-limit store: counts as `limits` counts, sweeps without starting threads."""

from __future__ import annotations

import random
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import limits.storage.memory as memory_module
import limits.strategies as strategies_module
import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mizual.errors import RateLimited
from mizual.kit import memorywindow
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
    (stale_key,) = storage.windows
    time.sleep(max(SWEEP_SECONDS, 1.0) + 0.1)  # the window and the sweep cadence have passed
    assert strategy.hit(parse("5/minute"), "status", "198.51.100.2")
    assert stale_key not in storage.windows  # its expired requests, and its empty window, gone
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


class _Clock:
    """`time` for both stores: a wall clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.mark.parametrize("seed", range(6))
def test_windows_answer_as_limits_own_store_answers(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts, tests, window stats, refunds and sweeps in a random order, against `limits`'
    `MemoryStorage` on the same clock: the same answers, though the requests are kept in the
    other order."""
    clock = _Clock()
    monkeypatch.setattr(memory_module, "time", clock)
    monkeypatch.setattr(memorywindow, "time", clock)
    monkeypatch.setattr(strategies_module, "time", clock)
    ours, theirs = SweptMemoryStorage(), MemoryStorage()
    theirs.timer.cancel()
    for store in (ours, theirs):  # both swept at the same steps (a request that ends exactly
        # now is counted by a count and dropped by a sweep, in both), not on their own cadence
        monkeypatch.setattr(store, "_MemoryStorage__schedule_expiry", lambda: None)
    mine, reference = MovingWindowRateLimiter(ours), MovingWindowRateLimiter(theirs)
    chance = random.Random(seed)
    limits = [parse("3/second"), parse("5/10 seconds"), parse("40/minute")]
    clients = ["198.51.100.1", "198.51.100.2"]
    for step in range(1500):
        limit, client = chance.choice(limits), chance.choice(clients)
        action = chance.random()
        where = f"step {step}: {action:.2f} {limit} {client}"
        if action < 0.55:
            cost = chance.choice([1, 1, 1, 2, 3])
            assert mine.hit(limit, "r", client, cost=cost) == reference.hit(
                limit, "r", client, cost=cost
            ), where
        elif action < 0.65:
            assert mine.test(limit, "r", client) == reference.test(limit, "r", client), where
        elif action < 0.75:
            got, expected = (
                strategy.get_window_stats(limit, "r", client) for strategy in (mine, reference)
            )
            assert got.remaining == expected.remaining, where
            if expected.remaining < limit.amount:  # with none in the window, `limits` answers
                assert got.reset_time == expected.reset_time, where  # a time past sweeps move
        elif action < 0.8:
            key = limit.key_for("r", client)
            ours.remove_newest(key)
            with theirs.locks[key]:
                if theirs.events.get(key):
                    del theirs.events[key][0]  # newest first there
        elif action < 0.85:
            ours.sweep()
            theirs._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        else:
            clock.now += chance.choice([0.05, 0.3, 1.0, 2.5, 7.0])


def test_a_full_window_costs_a_few_bytes_a_request_and_grows_at_its_end() -> None:
    """`limits` kept an object per request (about 150 bytes) and put each at the front of the
    client's list, so a count copied the whole window: with a high limit, 600,000 requests a
    minute from one address, 50 µs each and 87 MB."""
    storage = SweptMemoryStorage()
    strategy = MovingWindowRateLimiter(storage)
    limit = parse("100000000/minute")
    assert strategy.hit(limit, "status", "203.0.113.9")
    (key,) = storage.windows
    window = storage.windows[key]
    first = window[0]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(100_000):
            assert strategy.hit(limit, "status", "203.0.113.9")
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert storage.windows[key] is window
    assert window[0] == first  # grown at its end
    assert len(window) == 100_001
    assert (after - before) / 100_000 < 16, f"{(after - before) / 100_000:.0f} bytes a request"


def test_a_limit_holds_exactly_while_windows_are_swept() -> None:
    """Counts on many threads while another thread sweeps without a pause (it walks and drops
    windows under the same lock the counts take): each client gets exactly its one request."""
    storage = SweptMemoryStorage()
    strategy = MovingWindowRateLimiter(storage)
    once = parse("1/minute")
    stop = threading.Event()

    def sweeping() -> None:
        while not stop.is_set():
            storage.sweep()

    sweeper = threading.Thread(target=sweeping, daemon=True)
    sweeper.start()
    try:
        for client in range(40):
            with ThreadPoolExecutor(max_workers=8) as pool:
                allowed = sum(
                    pool.map(
                        lambda _, name=f"c{client}": strategy.hit(once, "edit", name), range(16)
                    )
                )
            assert allowed == 1, f"client {client}: {allowed} requests allowed"
    finally:
        stop.set()
        sweeper.join()
