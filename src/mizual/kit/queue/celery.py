"""Celery as the job queue (distributed mode): a Redis or RabbitMQ broker, one job per edit id,
no result backend."""

from __future__ import annotations

import logging
import threading
from typing import Any
from uuid import UUID

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from mizual.kit.throttle import ThrottledWarning
from mizual.settings import Settings
from mizual.settings.parsing import is_redis_url

logger = logging.getLogger(__name__)

PROCESS_EDIT_TASK = "mizual.process_edit"
# kombu's Redis transport keeps a queue in one list per priority step: `celery`, then
# `celery\x06\x163` and so on, and the jobs delivered but not yet acknowledged in a hash.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_UNACKED_KEY = "unacked"
# Above the longest an edit may legitimately take (the provider's 300 s timeout plus retries).
TASK_TIME_LIMIT_SECONDS = 900
# RabbitMQ's queue lengths are read over a connection of their own, as quickly as Redis's.
_AMQP_STATS_TIMEOUT_SECONDS = 0.5


class _ResultlessCelery(Celery):  # type: ignore[misc]
    """Celery that never has a result backend: the edit row is every job's result.

    Celery's `conf.result_backend` reads CELERY_RESULT_BACKEND from the environment before the
    configuration, so `result_backend=None` alone does not hold; and `send_task` subscribes to
    each job's result on that backend, so a Redis backend that is down held every submission
    for about 20 s. The backend class, when set, wins over both."""

    backend_cls = "disabled"


def build_celery(settings: Settings) -> Celery:
    app = _ResultlessCelery("mizual", broker=settings.celery_broker_url)
    app.conf.update(
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,  # a job is acknowledged only when the edit is finished
        task_reject_on_worker_lost=True,  # a killed worker's job goes back to the queue
        # Kept running when the broker connection drops (Celery 6 would cancel them): the edit's
        # lease, not its job, says who runs it, and a cancelled edit would wait for its lease.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_TIME_LIMIT_SECONDS,
        task_soft_time_limit=TASK_TIME_LIMIT_SECONDS - 30,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        # A submission waits at most about a second for the broker, then gets a clear 503.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.3,
            "interval_max": 0.5,
        },
        broker_transport_options=_transport_options(settings),
        worker_concurrency=settings.celery_concurrency,
        # A pool process above the limit is replaced after its current edit (Celery counts KiB).
        worker_max_memory_per_child=max(1, settings.celery_worker_memory_limit // 1024),
        worker_hijack_root_logger=False,
    )
    return app


def _transport_options(settings: Settings) -> dict[str, Any]:
    """Redis's transport needs a visibility timeout and a key prefix per environment. RabbitMQ
    needs neither: it hands a dead consumer's unacknowledged jobs out again as soon as its
    connection closes, and environments are kept apart by virtual host (the URL's path)."""
    if not is_redis_url(settings.celery_broker_url):
        return {}
    return {
        "visibility_timeout": settings.celery_visibility_timeout,
        # Look for jobs of vanished workers a few times per timeout, not every ~100 s.
        "unacked_restore_interval": max(1, min(10, settings.celery_visibility_timeout // 3)),
        "unacked_restore_throttle": 1,
        "global_keyprefix": f"{settings.environment}:celery:",
    }


class CeleryQueue:
    """The API's side: sends jobs; workers run them (see mizual.worker)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._redis: redis.Redis | None = None
        self._lock = threading.Lock()
        self._broker_down = ThrottledWarning(logger)

    def dispatch(self, edit_uuid: UUID) -> None:
        # ignore_result: no subscription to a result, whatever the backend (see above).
        self.app.send_task(PROCESS_EDIT_TASK, args=[str(edit_uuid)], ignore_result=True)

    def stats(self) -> dict[str, int]:
        """Jobs waiting in the broker, and (Redis only) delivered to workers but not yet
        acknowledged (running, or reserved by a worker); {} when the broker is not reachable."""
        broker = str(self.app.conf.broker_url or "")
        if is_redis_url(broker):
            return self._redis_stats(broker)
        if broker.startswith(("amqp://", "amqps://", "pyamqp://")):
            return self._amqp_stats()
        return {}

    def _redis_stats(self, broker: str) -> dict[str, int]:
        prefix = (self.app.conf.broker_transport_options or {}).get("global_keyprefix", "")
        queue = f"{prefix}{self.app.conf.task_default_queue}"
        try:
            with self._lock:
                if self._redis is None:
                    self._redis = redis.Redis.from_url(
                        broker, socket_timeout=0.5, socket_connect_timeout=0.5
                    )
                client = self._redis
            with client.pipeline(transaction=False) as pipe:
                for suffix in _PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
                pipe.hlen(prefix + _UNACKED_KEY)
                *waiting, unacknowledged = pipe.execute()
        except redis.RedisError as exc:
            self._broker_down.warn("could not read the queue length from the broker: %r", exc)
            return {}
        return {"waiting": int(sum(waiting)), "unacknowledged": int(unacknowledged)}

    def _amqp_stats(self) -> dict[str, int]:
        """A passive declare of the queue: its ready messages. AMQP does not say how many are
        delivered and unacknowledged (only the management API does), so that figure is left
        out rather than guessed."""
        queue = self.app.conf.task_default_queue
        with self.app.connection_for_read(connect_timeout=_AMQP_STATS_TIMEOUT_SECONDS) as conn:
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

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
        self.app.close()

    def workers(self, *, timeout: float = 1.0) -> dict[str, Any]:
        """Workers that answered a ping, by name; raises when the broker cannot be reached."""
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            replies = self.app.control.ping(timeout=timeout, connection=connection) or []
        return {name: reply for answer in replies for name, reply in answer.items()}
