"""Durations of named database operations, for `/debug/db-performance`."""

from __future__ import annotations

import functools
import statistics
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class OperationTimings:
    def __init__(self, *, window: int = 500) -> None:
        self._samples: defaultdict[str, deque[float]] = defaultdict(lambda: deque(maxlen=window))
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def record(self, name: str, seconds: float) -> None:
        with self._lock:
            self._samples[name].append(seconds * 1000)
            self._counts[name] += 1

    def summary(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            snapshot = {name: sorted(samples) for name, samples in self._samples.items()}
            counts = dict(self._counts)
        return {
            name: {
                "calls": counts[name],
                "p50_ms": round(statistics.median(samples), 3),
                "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 3),
                "max_ms": round(samples[-1], 3),
            }
            for name, samples in sorted(snapshot.items())
            if samples
        }


def timed(method: Callable[P, R]) -> Callable[P, R]:
    """Record the call's duration on `self.timings` under the method's name."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            timings: OperationTimings = args[0].timings  # type: ignore[attr-defined]
            timings.record(method.__name__, time.perf_counter() - started)

    return wrapper
