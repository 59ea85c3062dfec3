"""Admin-only views: present only when ADMIN_TOKEN is set, and only with that bearer token."""

from __future__ import annotations

import statistics
from typing import Any

from fastapi import APIRouter, Depends

from mizual.deps import RuntimeDep, rate_limit, require_admin
from mizual.errors.openapi import ADMIN_ERRORS, error_responses
from mizual.ops.repository import database_statistics, describe_schema
from mizual.ops.schemas import CacheStatsReport, DbPerformanceReport, DbSchemaReport
from mizual.ratelimits import RULES

router = APIRouter(
    prefix="/debug",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=error_responses(*ADMIN_ERRORS),
)


@router.get(
    "/db-schema", response_model=DbSchemaReport, dependencies=[rate_limit(RULES.debug_db_schema)]
)
def db_schema(runtime: RuntimeDep) -> dict[str, Any]:
    """The database's tables (columns, indexes, row counts) and its migration revision."""
    return describe_schema(runtime.engine)


@router.get(
    "/cache-stats",
    response_model=CacheStatsReport,
    dependencies=[rate_limit(RULES.debug_cache_stats)],
)
def cache_stats(runtime: RuntimeDep) -> dict[str, Any]:
    """The cache's backend, size and hit rate."""
    return {**runtime.cache.stats(), "environment": runtime.settings.environment.value}


@router.get(
    "/db-performance",
    response_model=DbPerformanceReport,
    dependencies=[rate_limit(RULES.debug_db_performance)],
)
def db_performance(runtime: RuntimeDep) -> dict[str, Any]:
    """Operation and stage timings (p50, p95), edits by status, the queue and the pool."""
    recent = runtime.edits.repository.recent_stage_timings()
    per_stage: dict[str, list[float]] = {}
    for timings in recent:
        for stage, ms in timings.items():
            per_stage.setdefault(stage, []).append(float(ms))
    return {
        "backend": runtime.engine.dialect.name,
        "operations": runtime.timings.summary(),
        "edits_by_status": runtime.edits.repository.count_by_status(),
        "stage_timings_ms": {
            stage: {
                "edits": len(values),
                "p50": round(statistics.median(values), 2),
                "p95": round(sorted(values)[min(len(values) - 1, int(len(values) * 0.95))], 2),
            }
            for stage, values in per_stage.items()
        },
        "queue": runtime.queue.stats() if runtime.queue else None,
        "pool": runtime.engine.pool.status(),
        "database": database_statistics(runtime.engine),
    }
