"""The Celery worker: `mizual worker`, or `celery -A mizual.worker worker`.

Each pool process builds its own runtime (engine, storage, cache, providers) on its first job,
after the fork, and runs the same pipeline the embedded queue runs. The main process runs the
edits' recovery rounds (the reconciler and the stuck-edit sweep), as every API process does, so
that edits are recovered while no API process runs.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from uuid import UUID

from celery.signals import worker_init, worker_process_shutdown, worker_ready, worker_shutdown

from mizual.kit.periodic import Periodic
from mizual.kit.queue.celery import PROCESS_EDIT_TASK, build_celery
from mizual.observability import multiprocess
from mizual.observability.worker_server import serve_worker_metrics
from mizual.runtime import Role, Runtime, build_runtime
from mizual.settings import Settings, load_settings
from mizual.webhooks.sender import ROUND_SECONDS as WEBHOOK_ROUND_SECONDS

logger = logging.getLogger(__name__)

settings = load_settings(distributed=True)
# Before the pool forks: its processes then record into the same folder (METRICS_MULTIPROC_DIR,
# or a private one when this worker serves METRICS_PORT itself).
multiprocess.configure(settings, private_folder=settings.metrics_port is not None)
app = build_celery(settings)
_state: dict[str, Runtime] = {}


def _runtime() -> Runtime:
    if "current" not in _state:
        _state["current"] = build_runtime(settings, role=Role.WORKER)
        # It lives as long as the pool process: out of the collector's full passes.
        gc.freeze()
    return _state["current"]


@app.task(name=PROCESS_EDIT_TASK)  # type: ignore[untyped-decorator]
def process_edit(edit_id: str) -> None:
    pipeline = _runtime().pipeline
    assert pipeline is not None  # a worker's runtime always has one
    pipeline.run(UUID(edit_id))


class Recovery:
    """The main process's recovery rounds: `EditService.reconcile` every
    RECONCILE_INTERVAL_SECONDS, and `fail_stuck_edits`, the sweep of expired idempotency keys and
    (with IMAGE_RETENTION_HOURS) the removal of old images every SWEEP_INTERVAL_SECONDS, and the
    webhook round (messages due) every second, with a runtime of their own (an API's: they
    dispatch jobs).
    Each round is one conditional UPDATE or DELETE, so every worker and API process may run
    them at once.

    The runtime is built in the rounds' thread, on the first round, after the pool has started:
    the pool processes forked at start-up inherit no connection of it. A pool process forked
    later (one replaced after a crash or past its memory limit) inherits the object, and
    `forget_in_child` drops its database pool there without closing the parent's connections;
    nothing in a pool process uses it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._owner = os.getpid()
        self._lock = threading.Lock()
        self._built: Runtime | None = None
        self._rounds: list[Periodic] = []

    def start(self) -> None:
        self._owner = os.getpid()
        self._rounds = [
            Periodic(
                "edit-reconciler",
                lambda: self._runtime().edits.reconcile(),
                every_seconds=self._settings.reconcile_interval_seconds,
            ).start(),
            Periodic(
                "stuck-edit-sweep",
                lambda: self._runtime().edits.fail_stuck_edits(),
                every_seconds=self._settings.sweep_interval_seconds,
            ).start(),
            Periodic(
                "idempotency-key-sweep",
                lambda: self._runtime().idempotency.sweep(),
                every_seconds=self._settings.sweep_interval_seconds,
            ).start(),
        ]
        if self._settings.image_retention_hours > 0:
            self._rounds.append(
                Periodic(
                    "image-retention-sweep",
                    lambda: self._runtime().removal.expire_old_images(),
                    every_seconds=self._settings.sweep_interval_seconds,
                ).start()
            )
        if self._settings.webhook_secret is not None:
            self._rounds.append(
                Periodic(
                    "webhook-sender",
                    self._send_due_webhooks,
                    every_seconds=WEBHOOK_ROUND_SECONDS,
                ).start()
            )
        logger.info(
            "edit recovery: reconciling every %ss, sweeping every %ss",
            self._settings.reconcile_interval_seconds,
            self._settings.sweep_interval_seconds,
        )

    def _send_due_webhooks(self) -> None:
        sender = self._runtime().webhooks
        if sender is not None:
            sender.send_due()

    def _runtime(self) -> Runtime:
        with self._lock:
            if self._built is None:
                self._built = build_runtime(self._settings, role=Role.API)
            return self._built

    def stop(self) -> None:
        if os.getpid() != self._owner:
            return  # a pool process: its copy runs no rounds and owns no connection
        rounds, self._rounds = self._rounds, []
        for periodic in rounds:
            periodic.stop()
        with self._lock:
            built, self._built = self._built, None
        if built is not None:
            built.close()

    def forget_in_child(self) -> None:
        """After a fork, in the child: the parent's database connections stay the parent's
        (dispose(close=False) only forgets them; psycopg does not close a connection in another
        process). The other clients are left referenced, unused, so no finalizer touches them."""
        rounds, self._rounds = self._rounds, []
        del rounds  # threads do not survive a fork: nothing to stop
        if self._built is not None:
            self._built.engine.dispose(close=False)


recovery = Recovery(settings)
os.register_at_fork(after_in_child=recovery.forget_in_child)


@worker_init.connect  # type: ignore[untyped-decorator]
def _serve_metrics(**_kwargs: object) -> None:
    """In the main worker process only: `GET /metrics` on METRICS_PORT, when set."""
    serve_worker_metrics(settings)


@worker_init.connect  # type: ignore[untyped-decorator]
def _freeze_before_the_pool_forks(**_kwargs: object) -> None:
    """What the main process has imported so far is shared with every pool process after the
    fork, until a collection writes to it (each object's header): frozen, it is never walked,
    so its pages stay shared instead of being copied into each pool process."""
    gc.collect()
    gc.freeze()


@worker_ready.connect  # type: ignore[untyped-decorator]
def _start_recovery(**_kwargs: object) -> None:
    """In the main worker process, once the pool has started and the worker consumes."""
    recovery.start()


@worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_recovery(**_kwargs: object) -> None:
    recovery.stop()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _close_runtime(**_kwargs: object) -> None:
    if "current" in _state:
        _state.pop("current").close()
    else:
        multiprocess.process_exited(os.getpid())
