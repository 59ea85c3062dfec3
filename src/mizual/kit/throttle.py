"""A warning logged at most once per interval: while Redis or the broker is down, every request
would otherwise log the same line."""

from __future__ import annotations

import logging
import threading
import time

WARN_EVERY_SECONDS = 30.0


class ThrottledWarning:
    def __init__(
        self, logger: logging.Logger, *, every_seconds: float = WARN_EVERY_SECONDS
    ) -> None:
        self.logger = logger
        self.every_seconds = every_seconds
        self.occurrences = 0  # every call, logged or not
        self._lock = threading.Lock()
        self._last = float("-inf")

    def warn(self, text: str, *args: object) -> None:
        with self._lock:
            self.occurrences += 1
            now = time.monotonic()
            if now - self._last < self.every_seconds:
                return
            self._last = now
        self.logger.warning(text, *args)
