"""Prometheus metrics: what is counted, how each process records it, how a scrape collects it.

Recording is an in-memory update, or in multiprocess mode (`METRICS_MULTIPROC_DIR`) a write to
this process's memory-mapped file in that folder: no system call, no network. Whatever is cheap
to read when scraped (queue length, cache statistics) is read then, not recorded.

- One process (`mizual serve` without a folder): the scrape reads this process's values.
- Several processes on one machine (`mizual api` processes, `mizual worker` pool processes):
  each writes its own files (`counter_<pid>.db`, `histogram_<pid>.db`) in the shared folder, and
  a scrape of any API process's `/metrics` (or of a worker's `METRICS_PORT`) adds them all up.
  The files of processes that have exited stay, so totals never go backwards; empty the folder
  only while no process uses it (at a deploy).
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from mizual.kit.cache import Cache
    from mizual.kit.queue.base import JobQueue
    from mizual.settings import Settings

logger = logging.getLogger(__name__)

# The text format generate_latest writes (Prometheus 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# From a few milliseconds (initialization, completion) to minutes (a remote editor).
STAGE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600,
)  # fmt: skip

# No `_created` series: they only add a gauge per series to the text format (and are absent in
# multiprocess mode anyway).
disable_created_metrics()  # type: ignore[no-untyped-call]

# Not registered anywhere: each scrape builds its registry (see `exposition`).
STAGE_SECONDS = Histogram(
    "mizual_edit_stage_duration_seconds",
    "How long a stage of an edit took, retries included (stages that succeeded).",
    ["stage"],
    buckets=STAGE_BUCKETS,
    registry=None,
)
EDITS_FINISHED = Counter(
    "mizual_edits_finished",
    "Edits that reached a final status: completed or failed.",
    ["status"],
    registry=None,
)
PROVIDER_ERRORS = Counter(
    "mizual_provider_errors",
    "Failures of the editing provider, by provider and class (each attempt counts).",
    ["provider", "error_class"],
    registry=None,
)
RATE_LIMIT_REJECTIONS = Counter(
    "mizual_rate_limit_rejections",
    "Requests refused with 429, by rate-limit rule.",
    ["rule"],
    registry=None,
)
RECORDED: tuple[Collector, ...] = (
    STAGE_SECONDS,
    EDITS_FINISHED,
    PROVIDER_ERRORS,
    RATE_LIMIT_REJECTIONS,
)

_ENV = "PROMETHEUS_MULTIPROC_DIR"
_configured = threading.Lock()


# Recording -------------------------------------------------------------------------------------


def observe_stage(stage: str, seconds: float) -> None:
    STAGE_SECONDS.labels(stage).observe(seconds)


def edit_finished(status: str) -> None:
    EDITS_FINISHED.labels(status).inc()


def edits_failed(count: int) -> None:
    if count:
        EDITS_FINISHED.labels("failed").inc(count)


def provider_error(provider: str, error_class: str) -> None:
    PROVIDER_ERRORS.labels(provider, error_class).inc()


def rate_limit_rejected(rule: str) -> None:
    RATE_LIMIT_REJECTIONS.labels(rule).inc()


# Process set-up ------------------------------------------------------------------------------


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
        for status in ("completed", "failed"):
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


# Scraping ------------------------------------------------------------------------------------


class RuntimeCollector:
    """Figures read at scrape time from this process's queue and cache."""

    def __init__(self, *, queue: JobQueue | None, cache: Cache) -> None:
        self.queue = queue
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        if self.queue is not None:
            stats = self.queue.stats()
            if "waiting" in stats:
                yield GaugeMetricFamily(
                    "mizual_queue_depth",
                    "Edits waiting for a worker (the in-process queue, or Celery's in Redis).",
                    value=stats["waiting"],
                )
            in_flight = stats.get("running", stats.get("unacknowledged"))
            if in_flight is not None:
                yield GaugeMetricFamily(
                    "mizual_queue_in_flight",
                    "Edits taken by a worker and not finished (in-process: running; Celery: "
                    "delivered and not yet acknowledged).",
                    value=in_flight,
                )
        yield from _cache_metrics(self.cache.stats())


def _cache_metrics(stats: dict[str, Any]) -> Iterator[Metric]:
    backend = str(stats.get("backend", "unknown"))
    hits, misses = stats.get("keyspace_hits"), stats.get("keyspace_misses")
    if not isinstance(hits, int) or not isinstance(misses, int):
        return  # the cache could not be read (Redis down)
    scope = "Redis: the whole server's keyspace" if backend == "redis" else "this process"
    for name, value, what in (("hits", hits, "found"), ("misses", misses, "did not find")):
        family = CounterMetricFamily(
            f"mizual_cache_{name}",
            f"Cache lookups that {what} the key ({scope}).",
            labels=["backend"],
        )
        family.add_metric([backend], value)
        yield family
    if hits + misses:
        ratio = GaugeMetricFamily(
            "mizual_cache_hit_ratio", f"Hits / (hits + misses) ({scope}).", labels=["backend"]
        )
        ratio.add_metric([backend], hits / (hits + misses))
        yield ratio
    if isinstance(stats.get("entries"), int):
        entries = GaugeMetricFamily(
            "mizual_cache_entries", "Entries in the in-process cache.", labels=["backend"]
        )
        entries.add_metric([backend], stats["entries"])
        yield entries


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text a scrape returns: every process's values in multiprocess mode, else this
    process's (with its CPU and memory), plus `extra` collectors."""
    registry = CollectorRegistry()
    folder = multiprocess_folder()
    if folder is not None:
        multiprocess.MultiProcessCollector(registry, folder)  # type: ignore[no-untyped-call]
    else:
        for metric in RECORDED:
            registry.register(metric)
        ProcessCollector(registry=registry)
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


# A worker's own endpoint (METRICS_PORT) ----------------------------------------------------------


def bearer_matches(authorization: str, token: str) -> bool:
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not worth a log line each."""


def serve_worker_metrics(settings: Settings) -> WSGIServer | None:
    """`GET /metrics` on HOST:METRICS_PORT in a background thread, with the same bearer token as
    the API's. Returns None (and logs) when the port is taken, e.g. by another worker on this
    machine sharing the folder, which then serves these figures too."""
    if settings.metrics_port is None or settings.admin_token is None:
        return None
    token = settings.admin_token.get_secret_value()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found\n"]
        if not bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"this endpoint needs 'Authorization: Bearer <ADMIN_TOKEN>'\n"]
        body = exposition()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [body]

    try:
        server = make_server(
            settings.host,
            settings.metrics_port,
            app,
            server_class=_Server,
            handler_class=_QuietHandler,
        )
    except OSError as exc:
        logger.error(
            "worker metrics: cannot listen on %s:%d (%s); not serving them here",
            settings.host,
            settings.metrics_port,
            exc,
        )
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info(
        "worker metrics at http://%s:%d/metrics (folder %s)",
        settings.host,
        settings.metrics_port,
        multiprocess_folder() or "none: this process only",
    )
    return server
