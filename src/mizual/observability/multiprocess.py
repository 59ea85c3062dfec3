"""How each process records: in its memory (one process), or in files of a folder shared by the
processes of one machine (`METRICS_MULTIPROC_DIR`), which a scrape of any of them adds up.

Each process writes its own files (`counter_<pid>.db`, `histogram_<pid>.db`). The files of
processes that have exited stay, so totals never go backwards; empty the folder only while no
process uses it (at a deploy).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import multiprocess, values

from mizual.observability.metrics import EDITS_FINISHED, STAGE_SECONDS

if TYPE_CHECKING:
    from mizual.settings import Settings

_ENV = "PROMETHEUS_MULTIPROC_DIR"
_configured = threading.Lock()


def configure(settings: Settings, *, private_folder: bool = False) -> str | None:
    """Choose this process's mode, once, before anything is recorded; returns the multiprocess
    folder, if any. `private_folder`: without METRICS_MULTIPROC_DIR, use a temporary folder of
    this process and its children (a worker serving METRICS_PORT), removed when it exits."""
    with _configured:
        folder = multiprocess_folder()
        if folder is None:
            if settings.metrics_multiproc_dir is not None:
                folder = str(settings.metrics_multiproc_dir.resolve())
                Path(folder).mkdir(parents=True, exist_ok=True)
            elif private_folder:
                folder = tempfile.mkdtemp(prefix="mizual-metrics-")
                _remove_at_exit(folder)
            if folder is not None:
                _enable_multiprocess(folder)
        # Series that read 0 rather than being absent before the first edit.
        for stage in _stages():
            STAGE_SECONDS.labels(stage)
        for status in ("completed", "failed", "cancelled"):
            EDITS_FINISHED.labels(status)
        return folder


def _enable_multiprocess(folder: str) -> None:
    os.environ[_ENV] = folder  # read when a value's file is opened; inherited by children
    if not getattr(values.ValueClass, "_multiprocess", False):
        # prometheus_client chose its value class when imported, before the folder was known.
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def multiprocess_folder() -> str | None:
    folder = os.environ.get(_ENV)
    return folder if folder and getattr(values.ValueClass, "_multiprocess", False) else None


def process_exited(pid: int | None = None) -> None:
    """Bookkeeping for a process that ends: its live gauges go (counters stay, by design)."""
    folder = multiprocess_folder()
    if folder is not None:
        multiprocess.mark_process_dead(pid or os.getpid(), folder)  # type: ignore[no-untyped-call]


def _remove_at_exit(folder: str) -> None:
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # not in a forked child that happens to run atexit
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)


def _stages() -> Iterable[str]:
    from mizual.edits.stages import PIPELINE

    return (stage.value for stage in PIPELINE)
