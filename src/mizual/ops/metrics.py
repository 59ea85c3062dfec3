"""`GET /metrics`: Prometheus's text format, admin-only like `/debug/*`."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from mizual import metrics
from mizual.deps import RuntimeDep
from mizual.ops.debug import require_admin
from mizual.responses import error_responses

router = APIRouter(
    tags=["admin"], dependencies=[Depends(require_admin)], responses=error_responses(401, 404)
)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The Prometheus text exposition format (version 0.0.4).",
        }
    },
)
def prometheus_metrics(runtime: RuntimeDep) -> Response:
    """Every process's counters and histograms (this one's, or with METRICS_MULTIPROC_DIR all
    that share the folder), plus the queue and cache figures read now. Not rate-limited:
    Prometheus scrapes every few seconds, and only with the admin token."""
    body = metrics.exposition([metrics.RuntimeCollector(queue=runtime.queue, cache=runtime.cache)])
    return Response(body, headers={"Content-Type": metrics.CONTENT_TYPE})
