"""When to ask BFL again whether a task is ready.

A fixed interval makes every result wait half of it on average after BFL has finished it. Polling
faster everywhere would multiply the calls for nothing: most polls of a task that takes 5 s are
asked long before it can be ready. So the schedule learns, per process, how long recent tasks took
and polls at the fastest interval only in the window where most of them became ready (from the
10th to the 90th percentile, widened by one slow interval on each side); before and after that
window it polls at the slow interval, as BFL's own examples do. Until enough tasks have been seen,
it starts fast and backs off (each wait 1.5 times the last) to the slow interval, which catches
quick tasks without a burst of calls on long ones.

Once BFL answers a poll with 429, the schedule polls at the slow interval only, for a minute.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# Enough finished tasks for the window to mean something; and how many are remembered, so it
# follows BFL when it speeds up or slows down.
_LEARNED_AFTER = 8
_REMEMBERED = 64
_BACKOFF = 1.5
_THROTTLED_FOR_SECONDS = 60.0


class PollSchedule:
    def __init__(
        self,
        *,
        fastest_seconds: float,
        slowest_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fastest = min(fastest_seconds, slowest_seconds)
        self.slowest = slowest_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._ready_after: deque[float] = deque(maxlen=_REMEMBERED)
        self._slow_until = 0.0

    def next_delay(self, *, elapsed: float, previous: float | None) -> float:
        """Seconds to wait before the next poll of a task submitted `elapsed` seconds ago, whose
        last wait was `previous` (None before its first poll)."""
        if self.fastest >= self.slowest or self._clock() < self._slow_until:
            return self.slowest
        window = self.window()
        if window is None:
            return self.fastest if previous is None else min(self.slowest, previous * _BACKOFF)
        start, end = window
        if elapsed + self.slowest <= start:
            return self.slowest
        if elapsed < start:
            return max(self.fastest, start - elapsed)
        if elapsed <= end:
            return self.fastest
        return self.slowest

    def window(self) -> tuple[float, float] | None:
        """Where the fastest interval applies, in seconds after submission; None until learned."""
        with self._lock:
            if len(self._ready_after) < _LEARNED_AFTER:
                return None
            ordered = sorted(self._ready_after)
        low = ordered[int(0.1 * (len(ordered) - 1))]
        high = ordered[round(0.9 * (len(ordered) - 1))]
        return max(0.0, low - self.slowest), high + self.slowest

    def learn(self, *, seen_after: float, last_delay: float | None) -> None:
        """A task was seen Ready `seen_after` seconds after submission, `last_delay` after the
        poll that still saw it Pending: it became ready somewhere in between."""
        estimate = seen_after - (last_delay or 0.0) / 2
        with self._lock:
            self._ready_after.append(max(0.0, estimate))

    def throttled(self) -> None:
        """BFL answered a poll with 429: poll slowly for a while."""
        self._slow_until = self._clock() + _THROTTLED_FOR_SECONDS
