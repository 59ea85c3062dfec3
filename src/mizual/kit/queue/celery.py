"""Celery as the job queue (distributed mode): a Redis or RabbitMQ broker, one job per edit id,
no result backend. The workers' app, and the API's for what only Celery does (a RabbitMQ
broker, the worker ping); `celery_queue` is the API's side."""

from __future__ import annotations

from typing import Any

from celery import Celery

from mizual.kit.queue.redis_jobs import PROCESS_EDIT_TASK, QUEUE, key_prefix
from mizual.settings import Settings
from mizual.settings.parsing import is_redis_url

__all__ = ["PROCESS_EDIT_TASK", "TASK_TIME_LIMIT_SECONDS", "build_celery"]

# Above the longest an edit may legitimately take (the provider's 300 s timeout plus retries).
TASK_TIME_LIMIT_SECONDS = 900


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
        task_default_queue=QUEUE,  # where `redis_jobs` puts the jobs it writes itself
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
        "global_keyprefix": key_prefix(settings.environment),
    }
