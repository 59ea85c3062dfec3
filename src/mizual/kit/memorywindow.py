"""`limits`' in-memory store, swept of expired requests by its callers instead of by threads.

`limits.storage.MemoryStorage` sweeps with a `threading.Timer` of 10 ms that every count
restarts once it has run: under steady traffic, about a hundred threads started a second, and
each `Thread.start()` waits, on the caller's thread, for the new thread to take the GIL. In
embedded mode that caller is the event loop answering status polls, while the edit workers'
threads hold the GIL: a py-spy profile of `bench/polls.py` found 19 % of the polls' time in
that wait (bench/RESULTS.md, issue 21). Here the count that finds the last sweep a second old
sweeps, on its own thread; no thread is ever started.

`MemoryStorage` also keeps a window's requests as objects (145 bytes each), newest first,
and puts each new one at the front of the list, which moves the whole window: a count cost time
in proportion to the requests in the window, 50 µs once a client had 600,000 of them (a high
limit, or many clients behind one address), and the window took 87 MB. Here a window is an
array of request times, oldest first (8 bytes a request), and a request is appended. Every
method of the moving window is this class's; each answers as `limits`' own
(tests/kit/test_memorywindow.py compares them), and a window left empty is dropped.
"""

from __future__ import annotations

import bisect
import threading
import time
from array import array

from limits.storage import MemoryStorage

SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """A `MemoryStorage` whose expired requests are dropped at most once a second, inline.

    Between sweeps nothing is lost or counted twice: the moving window compares each request's
    own time with the window, so an expired request that is not yet dropped is never counted;
    the sweep only bounds the memory (a second of requests per client and rule, at most)."""

    def __init__(self) -> None:
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        self._sweeping = threading.Lock()
        # Each window's request times, oldest first, and its length in seconds (one per key:
        # a key names its limit). One lock for all of them: a sweep can drop a window while
        # no count holds a lock of its own that a later count would not see.
        self.windows: dict[str, array[float]] = {}
        self._seconds: dict[str, int] = {}
        self._windows_lock = threading.Lock()
        # Last: it starts one 10 ms timer (the last one this store starts), whose sweep is ours.
        super().__init__()

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

    # The timer `MemoryStorage.__init__` starts calls its own sweep, which would read these
    # windows as its lists of request objects.
    def _MemoryStorage__expire_events(self) -> None:  # noqa: N802 (the mangled name)
        self.sweep()

    def sweep(self) -> None:
        """Drop every expired request and counter now."""
        now = time.time()
        with self._windows_lock:
            for key, window in list(self.windows.items()):
                seconds = self._seconds[key]
                # As `limits`: a request expires at its time + the window, when that is <= now.
                del window[: bisect.bisect_right(window, now, key=lambda at: at + seconds)]
                if not window:
                    del self.windows[key], self._seconds[key]
        for key in list(self.expirations):
            if self.expirations[key] <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Count `amount` requests unless the window already holds `limit - amount + 1` made
        `expiry` seconds ago or later (`limits`' rule)."""
        if amount > limit:
            return False
        self._MemoryStorage__schedule_expiry()
        with self._windows_lock:
            now = time.time()
            window = self.windows.get(key)
            if window is None:
                window = self.windows[key] = array("d")
                self._seconds[key] = expiry
            elif len(window) > limit - amount and window[amount - limit - 1] >= now - expiry:
                return False
            window.extend([now] * amount)
            return True

    def get_moving_window(
        self,
        key: str,
        limit: int,  # noqa: ARG002 (`limits`' signature)
        expiry: int,
    ) -> tuple[float, int]:
        """(the oldest request's time, how many) of the requests in the window; with none in it,
        the oldest kept or now, and 0, as `limits` answers."""
        with self._windows_lock:
            now = time.time()
            window = self.windows.get(key)
            if not window:
                return now, 0
            start = bisect.bisect_right(window, now - expiry)
            return window[start if start < len(window) else 0], len(window) - start

    def remove_newest(self, key: str) -> None:
        """Give back the newest request counted under `key`, if there is one."""
        with self._windows_lock:
            window = self.windows.get(key)
            if window:
                window.pop()

    def clear(self, key: str) -> None:
        super().clear(key)
        with self._windows_lock:
            self.windows.pop(key, None)
            self._seconds.pop(key, None)

    def reset(self) -> int | None:
        with self._windows_lock:
            count = len(self.windows)
            self.windows.clear()
            self._seconds.clear()
        return max(count, super().reset() or 0)
