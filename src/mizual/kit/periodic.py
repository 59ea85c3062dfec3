"""Runs a function every few seconds in a background thread, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mizual.kit.throttle import ThrottledWarning

logger = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, action: Callable[[], object], *, every_seconds: float) -> None:
        self._action = action
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        # While the database is down a round fails every few seconds: one line per half minute.
        self._failing = ThrottledWarning(logger)

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._action()
            except Exception as exc:  # keep going: the next round may succeed
                self._failing.warn("%s failed: %r", self._thread.name, exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
