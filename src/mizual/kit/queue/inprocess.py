"""A bounded pool of worker threads inside the API process (embedded mode).

Durable because the edit's state is in the database: a job lost with the process is found again
at the next start-up (see `EditService.recover_unfinished`).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from uuid import UUID

from mizual.kit.queue.base import JobHandler

logger = logging.getLogger(__name__)


class InProcessQueue:
    def __init__(self, *, handler: JobHandler, max_workers: int) -> None:
        self._handler = handler
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="edit")
        self._lock = threading.Lock()
        self._queued: set[UUID] = set()
        self._running = 0
        self._done = 0

    def dispatch(self, edit_uuid: UUID) -> None:
        with self._lock:
            if edit_uuid in self._queued:
                return  # already waiting or running; a second run would only repeat work
            self._queued.add(edit_uuid)
        future = self._executor.submit(self._run, edit_uuid)
        future.add_done_callback(lambda f: self._finished(edit_uuid, f))

    def _run(self, edit_uuid: UUID) -> None:
        with self._lock:
            self._running += 1
        try:
            self._handler(edit_uuid)
        finally:
            with self._lock:
                self._running -= 1

    def _finished(self, edit_uuid: UUID, future: Future[None]) -> None:
        with self._lock:
            self._queued.discard(edit_uuid)
            self._done += 1
        if not future.cancelled() and (exc := future.exception()) is not None:
            logger.error("edit %s: job crashed", edit_uuid, exc_info=exc)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "running": self._running,
                "waiting": len(self._queued) - self._running,
                "finished": self._done,
            }

    def close(self) -> None:
        # Running edits finish; waiting ones stay pending in the database for the next start.
        self._executor.shutdown(wait=True, cancel_futures=True)
