"""What a scrape returns: every process's recorded values, plus figures read at scrape time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mizual.observability.metrics import RECORDED
from mizual.observability.multiprocess import multiprocess_folder

if TYPE_CHECKING:
    from mizual.kit.cache import Cache
    from mizual.kit.queue.base import JobQueue

# The text format generate_latest writes (Prometheus 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
