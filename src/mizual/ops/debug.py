"""Admin-only views: present only when ADMIN_TOKEN is set, and only with that bearer token."""

from __future__ import annotations

import hmac
import statistics
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mizual.deps import RuntimeDep, get_runtime, rate_limit
from mizual.errors import NotFound, Unauthorized
from mizual.ops.repository import database_statistics, describe_schema
from mizual.ops.schemas import CacheStatsReport, DbPerformanceReport, DbSchemaReport
from mizual.responses import ADMIN_ERRORS, error_responses

# Declares the bearer scheme in the OpenAPI document, so that Swagger UI's "Authorize" and
# generated clients send the token. It never refuses (auto_error=False): require_admin decides,
# with 404 while ADMIN_TOKEN is unset, as if the routes did not exist.
ADMIN_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="`Authorization: Bearer <ADMIN_TOKEN>`: the server's ADMIN_TOKEN setting.",
)


def require_admin(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(ADMIN_BEARER)],
) -> None:
    token = get_runtime(request).settings.admin_token
    if token is None or not token.get_secret_value():
        raise NotFound("Not Found")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise Unauthorized("this endpoint needs 'Authorization: Bearer <ADMIN_TOKEN>'")


router = APIRouter(
    prefix="/debug",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=error_responses(*ADMIN_ERRORS),
)


@router.get(
    "/db-schema", response_model=DbSchemaReport, dependencies=[rate_limit("debug_db_schema")]
)
def db_schema(runtime: RuntimeDep) -> dict[str, Any]:
    """The database's tables (columns, indexes, row counts) and its migration revision."""
    return describe_schema(runtime.engine)


@router.get(
    "/cache-stats", response_model=CacheStatsReport, dependencies=[rate_limit("debug_cache_stats")]
)
def cache_stats(runtime: RuntimeDep) -> dict[str, Any]:
    """The cache's backend, size and hit rate."""
    return {**runtime.cache.stats(), "environment": runtime.settings.environment.value}


@router.get(
    "/db-performance",
    response_model=DbPerformanceReport,
    dependencies=[rate_limit("debug_db_performance")],
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
