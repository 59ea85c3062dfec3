"""Jobs in a Redis broker, written and counted without Celery.

A job is the message Celery's `send_task` would put in the queue (task protocol 2, as kombu's
Redis transport stores it), pushed with one LPUSH. The API process therefore never imports
Celery or kombu for a Redis broker: 14 MB less memory after the first edits (bench/RESULTS.md,
2026-12-06 23:30), and a dispatch of one round trip instead of Celery's producer machinery.
`tests/kit/test_redis_jobs.py` holds the message to what Celery itself writes, and the
distributed tests have real workers run it.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

import redis

PROCESS_EDIT_TASK = "mizual.process_edit"
# Celery's default queue, on kombu's default (anonymous, direct) exchange.
QUEUE = "celery"
# kombu's Redis transport keeps a queue in one list per priority step: `celery`, then
# `celery\x06\x163` and so on, and the jobs delivered but not yet acknowledged in a hash.
_SEPARATOR = "\x06\x16"
PRIORITY_SUFFIXES = ("", f"{_SEPARATOR}3", f"{_SEPARATOR}6", f"{_SEPARATOR}9")
UNACKED_KEY = "unacked"
# What kombu records of a queue's binding when it declares it (as a worker does at its start).
_BINDING = f"{QUEUE}{_SEPARATOR}{_SEPARATOR}{QUEUE}"
_BINDING_KEYS = (f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}")
# As Celery's publish retry policy (kit/queue/celery.py): a submission waits about a second for
# a broker that is down, then gets a clear 503.
_RETRY_DELAYS_SECONDS = (0.0, 0.3, 0.5)


def key_prefix(environment: str) -> str:
    """The prefix of every key the broker's jobs use (kombu's `global_keyprefix`): deployments
    that share a Redis keep apart."""
    return f"{environment}:celery:"


def job_message(edit_uuid: UUID, *, origin: str) -> dict[str, Any]:
    """The job that runs `edit_uuid`, as kombu's Redis transport stores Celery's message."""
    task_id = str(uuid.uuid4())
    args = [str(edit_uuid)]
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = json.dumps([args, {}, embed]).encode()
    return {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": PROCESS_EDIT_TASK,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            # None: the worker's own task_time_limit and task_soft_time_limit apply.
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(args),
            "kwargsrepr": "{}",
            "origin": origin,
            "ignore_result": True,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": QUEUE},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }


class RedisJobs:
    """Sends edits' jobs to the Redis broker at `url` and counts those waiting."""

    def __init__(
        self,
        url: str,
        *,
        environment: str,
        timeout_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self._prefix = key_prefix(environment)
        self._origin = f"gen{os.getpid()}@{socket.gethostname()}"  # as Celery names a sender
        self._sleep = sleep
        self._declared = False

    def send(self, edit_uuid: UUID) -> None:
        """Queue the edit's job; raises redis.RedisError when the broker cannot be reached
        within about a second."""
        message = json.dumps(job_message(edit_uuid, origin=self._origin))
        for attempt, delay in enumerate(_RETRY_DELAYS_SECONDS):
            if delay:
                self._sleep(delay)
            try:
                self._push(message)
                return
            except redis.RedisError:
                if attempt == len(_RETRY_DELAYS_SECONDS) - 1:
                    raise

    def _push(self, message: str) -> None:
        with self._client.pipeline(transaction=False) as pipe:
            if not self._declared:
                # Declared as Celery's producer does at its first job, so that the queue is
                # bound before any worker has started.
                for key in _BINDING_KEYS:
                    pipe.sadd(self._prefix + key, _BINDING)
            pipe.lpush(self._prefix + QUEUE, message)
            pipe.execute()
        self._declared = True

    def lengths(self) -> dict[str, int]:
        """Jobs waiting, and delivered to workers but not yet acknowledged (running, or
        reserved by a worker); raises redis.RedisError when the broker cannot be reached."""
        queue = self._prefix + QUEUE
        with self._client.pipeline(transaction=False) as pipe:
            for suffix in PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
            pipe.hlen(self._prefix + UNACKED_KEY)
            *waiting, unacknowledged = pipe.execute()
        return {"waiting": int(sum(waiting)), "unacknowledged": int(unacknowledged)}

    def close(self) -> None:
        self._client.close()
