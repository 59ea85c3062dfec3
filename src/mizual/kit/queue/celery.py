"""Celery as the job queue (distributed mode): Redis broker, one job per edit id."""

from __future__ import annotations

import logging
import threading
from typing import Any
from uuid import UUID

import redis
from celery import Celery

from mizual.kit.throttle import ThrottledWarning
from mizual.settings import Settings

logger = logging.getLogger(__name__)

PROCESS_EDIT_TASK = "mizual.process_edit"
# kombu's Redis transport keeps a queue in one list per priority step: `celery`, then
# `celery\x06\x163` and so on, and the jobs delivered but not yet acknowledged in a hash.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_UNACKED_KEY = "unacked"
# Above the longest an edit may legitimately take (the provider's 300 s timeout plus retries).
TASK_TIME_LIMIT_SECONDS = 900


def build_celery(settings: Settings) -> Celery:
    app = Celery("mizual", broker=settings.celery_broker_url)
    app.conf.update(
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,  # a job is acknowledged only when the edit is finished
        task_reject_on_worker_lost=True,  # a killed worker's job goes back to the queue
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
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout,
            # Look for jobs of vanished workers a few times per timeout, not every ~100 s.
            "unacked_restore_interval": max(1, min(10, settings.celery_visibility_timeout // 3)),
            "unacked_restore_throttle": 1,
            "global_keyprefix": f"{settings.environment}:celery:",
        },
        worker_concurrency=settings.celery_concurrency,
        # A pool process above the limit is replaced after its current edit (Celery counts KiB).
        worker_max_memory_per_child=max(1, settings.celery_worker_memory_limit // 1024),
        worker_hijack_root_logger=False,
    )
    return app


class CeleryQueue:
    """The API's side: sends jobs; workers run them (see mizual.worker)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._redis: redis.Redis | None = None
        self._lock = threading.Lock()
        self._broker_down = ThrottledWarning(logger)

    def dispatch(self, edit_uuid: UUID) -> None:
        self.app.send_task(PROCESS_EDIT_TASK, args=[str(edit_uuid)])

    def stats(self) -> dict[str, int]:
        """Jobs waiting in the broker, and delivered to workers but not yet acknowledged
        (running, or reserved by a worker); {} when the broker is not Redis or not reachable."""
        broker = str(self.app.conf.broker_url or "")
        if not broker.startswith(("redis://", "rediss://")):
            return {}
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
