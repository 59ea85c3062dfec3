"""Health, version and (in embedded mode) the image files themselves."""

from __future__ import annotations

import logging
import mimetypes
import platform
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from mizual import __version__
from mizual.deps import RuntimeDep, rate_limit
from mizual.errors import NotFound
from mizual.kit.queue.celery import CeleryQueue
from mizual.kit.storage.base import ObjectNotFound
from mizual.kit.storage.local import IMAGES_ROUTE, LocalStorage
from mizual.ops.repository import ping
from mizual.responses import error_responses
from mizual.settings import Settings

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])

IMMUTABLE = "public, max-age=31536000, immutable"


@router.get("/health", responses={503: {"description": "The database does not answer."}})
def health(runtime: RuntimeDep) -> JSONResponse:
    """For load balancers: 200 when the service and its database answer, 503 otherwise."""
    try:
        ping(runtime.engine)
    except Exception:
        return JSONResponse(
            {"status": "unhealthy", "message": "The database is not reachable"}, status_code=503
        )
    return JSONResponse({"status": "ok", "message": "Service is running"})


@router.get(
    "/health/celery",
    dependencies=[rate_limit("celery_health")],
    responses={
        503: {"description": "No worker answered, or the broker is down."},
        **error_responses(429),
    },
)
def celery_health(runtime: RuntimeDep) -> JSONResponse:
    """Distributed mode: do Celery workers answer? 503 when none does or the broker is down."""
    queue = runtime.queue
    if not isinstance(queue, CeleryQueue):
        return JSONResponse(
            {
                "status": "healthy",
                "mode": "embedded",
                "worker_count": runtime.settings.max_workers,
                "workers": [],
                "message": "Edits run inside the API process; there are no Celery workers.",
            }
        )
    try:
        workers = queue.workers(timeout=1.0)
    except Exception as exc:
        logger.warning("celery health: broker not reachable: %s", type(exc).__name__)
        return JSONResponse(
            {
                "status": "unhealthy",
                "mode": "distributed",
                "worker_count": 0,
                "workers": [],
                "message": "The message broker is not reachable.",
            },
            status_code=503,
        )
    return JSONResponse(
        {
            "status": "healthy" if workers else "unhealthy",
            "mode": "distributed",
            "worker_count": len(workers),
            "workers": sorted(workers),
            "message": "Workers are answering." if workers else "No worker answered.",
        },
        status_code=200 if workers else 503,
    )


@router.get("/version")
def version(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """What is deployed. Never includes secrets or connection strings."""
    settings = runtime.settings
    return {
        "version": __version__,
        "git_commit": settings.git_commit,
        "deploy_time": settings.deploy_time or request.app.state.started_at.isoformat(),
        "started_at": request.app.state.started_at.isoformat(),
        "environment": settings.environment.value,
        "edit_provider": runtime.editor.name,
        "prompt_enhancement": _enhancement(settings),
        "database": settings.database_backend,
        "storage": "s3" if settings.uses_s3 else "local",
        "python": platform.python_version(),
    }


@router.api_route(IMAGES_ROUTE + "/{key:path}", methods=["GET", "HEAD"], include_in_schema=False)
def image_file(key: str, runtime: RuntimeDep) -> FileResponse:
    storage = runtime.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("images are served by the object store, not by this API")
    try:
        path = storage.path_for(key)
    except ObjectNotFound:
        raise NotFound("no such image") from None
    if not path.is_file():
        raise NotFound("no such image")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"},
    )


def _enhancement(settings: Settings) -> str:
    if not settings.enable_prompt_enhancement:
        return "off"
    if settings.resolved_llm_api_key is None:
        return "off (no LLM key)"
    return f"{settings.llm_provider.value} ({settings.resolved_llm_model})"
