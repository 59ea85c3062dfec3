"""`GET /metrics`: Prometheus's text format, admin-only like `/debug/*`."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from mizual.deps import RuntimeDep, require_admin
from mizual.errors import NotFound, Unauthorized
from mizual.errors.openapi import error_responses
from mizual.observability.exposition import CONTENT_TYPE, RuntimeCollector, exposition

router = APIRouter(
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=error_responses(Unauthorized, NotFound),
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
    body = exposition([RuntimeCollector(queue=runtime.queue, cache=runtime.cache)])
    return Response(body, headers={"Content-Type": CONTENT_TYPE})
