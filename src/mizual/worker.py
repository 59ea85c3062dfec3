"""The Celery worker: `mizual worker`, or `celery -A mizual.worker worker`.

Each worker process builds its own runtime (engine, storage, cache, providers) on its first job,
after the fork, and runs the same pipeline the embedded queue runs.
"""

from __future__ import annotations

import logging
import os
from uuid import UUID

from celery.signals import worker_init, worker_process_shutdown

from mizual.kit.queue.celery import PROCESS_EDIT_TASK, build_celery
from mizual.observability import multiprocess
from mizual.observability.worker_server import serve_worker_metrics
from mizual.runtime import Role, Runtime, build_runtime
from mizual.settings import load_settings

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
    return _state["current"]


@app.task(name=PROCESS_EDIT_TASK)  # type: ignore[untyped-decorator]
def process_edit(edit_id: str) -> None:
    _runtime().pipeline.run(UUID(edit_id))


@worker_init.connect  # type: ignore[untyped-decorator]
def _serve_metrics(**_kwargs: object) -> None:
    """In the main worker process only: `GET /metrics` on METRICS_PORT, when set."""
    serve_worker_metrics(settings)


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _close_runtime(**_kwargs: object) -> None:
    if "current" in _state:
        _state.pop("current").close()
    else:
        multiprocess.process_exited(os.getpid())
