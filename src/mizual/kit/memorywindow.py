"""`limits`' in-memory store, swept of expired requests by its callers instead of by threads.

`limits.storage.MemoryStorage` sweeps with a `threading.Timer` of 10 ms that every count
restarts once it has run: under steady traffic, about a hundred threads started a second, and
each `Thread.start()` waits, on the caller's thread, for the new thread to take the GIL. In
embedded mode that caller is the event loop answering status polls, while the edit workers'
threads hold the GIL: a py-spy profile of `bench/polls.py` found 19 % of the polls' time in
that wait (bench/RESULTS.md, issue 21). Here the count that finds the last sweep a second old
sweeps, on its own thread; no thread is ever started.
"""

from __future__ import annotations

import threading
import time

from limits.storage import MemoryStorage

SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """A `MemoryStorage` whose expired requests are dropped at most once a second, inline.

    Between sweeps nothing is lost or counted twice: the moving window compares each request's
    own time with the window, so an expired request that is not yet dropped is never counted;
    the sweep only bounds the memory (a second of requests per client and rule, at most)."""

    def __init__(self) -> None:
        super().__init__()  # starts one 10 ms timer, the last one this store starts
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        self._sweeping = threading.Lock()

    # `MemoryStorage` calls its private `__schedule_expiry` before every count; this is that
    # name, mangled (tests/kit/test_memorywindow.py fails if `limits` renames it).
    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (the mangled name)
        now = time.monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_SECONDS
            self.sweep()
        finally:
            self._sweeping.release()

    def sweep(self) -> None:
        """Drop every expired request and counter now."""
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
