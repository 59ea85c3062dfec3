"""The API's side of the Celery queue: sends jobs, counts them, pings the workers.

With a Redis broker, jobs are written and counted by `redis_jobs`, without Celery; Celery (and
kombu) is imported only for what it alone does: a RabbitMQ broker, and the worker ping of
/health/celery. An API process with a Redis broker that is never asked that ping never imports
it.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from uuid import UUID

import redis

from mizual.kit.queue.redis_jobs import RedisJobs
from mizual.kit.throttle import ThrottledWarning
from mizual.settings import Settings
from mizual.settings.parsing import is_redis_url

if TYPE_CHECKING:
    from celery import Celery

logger = logging.getLogger(__name__)

# RabbitMQ's queue lengths are read over a connection of their own, as quickly as Redis's.
_AMQP_STATS_TIMEOUT_SECONDS = 0.5


class CeleryQueue:
    """Sends edits' jobs to Celery workers (see mizual.worker) through the broker."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._broker = settings.celery_broker_url
        self._app: Celery | None = None
        self._lock = threading.Lock()
        self._broker_down = ThrottledWarning(logger)
        self._jobs = (
            RedisJobs(self._broker, environment=settings.environment)
            if is_redis_url(self._broker)
            else None
        )

    @property
    def app(self) -> Celery:
        """The Celery app, built (and Celery imported) at its first use."""
        with self._lock:
            if self._app is None:
                from mizual.kit.queue.celery import build_celery

                self._app = build_celery(self._settings)
            return self._app

    def dispatch(self, edit_uuid: UUID) -> None:
        if self._jobs is not None:
            self._jobs.send(edit_uuid)
            return
        from mizual.kit.queue.celery import PROCESS_EDIT_TASK

        # ignore_result: no subscription to a result, whatever the backend (kit/queue/celery).
        self.app.send_task(PROCESS_EDIT_TASK, args=[str(edit_uuid)], ignore_result=True)

    def stats(self) -> dict[str, int]:
        """Jobs waiting in the broker, and (Redis only) delivered to workers but not yet
        acknowledged (running, or reserved by a worker); {} when the broker is not reachable."""
        if self._jobs is not None:
            try:
                return self._jobs.lengths()
            except redis.RedisError as exc:
                self._broker_down.warn("could not read the queue length from the broker: %r", exc)
                return {}
        if self._broker.startswith(("amqp://", "amqps://", "pyamqp://")):
            return self._amqp_stats()
        return {}

    def _amqp_stats(self) -> dict[str, int]:
        """A passive declare of the queue: its ready messages. AMQP does not say how many are
        delivered and unacknowledged (only the management API does), so that figure is left
        out rather than guessed."""
        from kombu.exceptions import OperationalError

        app = self.app
        queue = app.conf.task_default_queue
        with app.connection_for_read(connect_timeout=_AMQP_STATS_TIMEOUT_SECONDS) as conn:
            try:
                # One attempt: kombu would otherwise try again after 2 s, holding the scrape.
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
                channel = conn.channel()
                try:
                    _, waiting, _ = channel.queue_declare(queue=queue, passive=True)
                finally:
                    channel.close()
            except conn.channel_errors:
                return {"waiting": 0}  # not declared yet: nothing was ever queued
            except (OperationalError, *conn.connection_errors) as exc:
                self._broker_down.warn("could not read the queue length from the broker: %r", exc)
                return {}
        return {"waiting": int(waiting)}

    def workers(self, *, timeout: float = 1.0) -> dict[str, Any]:
        """Workers that answered a ping, by name; raises when the broker cannot be reached."""
        app = self.app
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            replies = app.control.ping(timeout=timeout, connection=connection) or []
        return {name: reply for answer in replies for name, reply in answer.items()}

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.close()
        with self._lock:
            if self._app is not None:
                self._app.close()
