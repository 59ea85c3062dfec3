"""Health, version and (in embedded mode) the image files themselves.

`/health`, `/health/celery` and `/version` answer HEAD as well as GET, for load balancers and
uptime checks that probe with HEAD: the same status and headers, without the body."""

from __future__ import annotations

import logging
import mimetypes
import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from mizual import __version__
from mizual.deps import RuntimeDep, rate_limit
from mizual.errors import Forbidden, NotFound, RateLimited
from mizual.errors.openapi import error_responses
from mizual.kit.queue.base import JobQueue
from mizual.kit.queue.inprocess import InProcessQueue
from mizual.kit.storage.base import ObjectNotFound
from mizual.kit.storage.local import IMAGES_ROUTE, LocalStorage
from mizual.ops.repository import ping
from mizual.ops.schemas import CeleryHealthReport, HealthReport, VersionInfo
from mizual.ratelimits import RULES
from mizual.settings import Settings

if TYPE_CHECKING:
    from mizual.kit.queue.celery_queue import CeleryQueue

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])

IMMUTABLE = "public, max-age=31536000, immutable"

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def get_and_head(path: str, **options: Any) -> Callable[[_Endpoint], _Endpoint]:
    """The route for GET, and for HEAD the same endpoint with the same dependencies (a HEAD
    of /health/celery spends from its rate limit like a GET: it is the same check). HEAD stays
    out of the OpenAPI document, so that a generated client has one operation per path."""

    def register(endpoint: _Endpoint) -> _Endpoint:
        router.add_api_route(path, endpoint, methods=["GET"], **options)
        router.add_api_route(
            path,
            endpoint,
            methods=["HEAD"],
            dependencies=options.get("dependencies"),
            include_in_schema=False,
        )
        return endpoint

    return register


DRAINING = {"status": "draining", "message": "This server is shutting down; retry on another one"}


@get_and_head(
    "/health",
    response_model=HealthReport,
    responses={
        503: {
            "model": HealthReport,
            "description": "The database does not answer, or this process is shutting down "
            '(status "draining", with Retry-After).',
        }
    },
)
def health(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """For load balancers: 200 when the service and its database answer, 503 otherwise, and
    503 as soon as the process has been told to stop (SIGTERM), while it still serves the
    other requests for SHUTDOWN_DRAIN_SECONDS: the balancer takes it out of rotation first."""
    if request.app.state.drain.started:
        return JSONResponse(DRAINING, status_code=503, headers={"Retry-After": "1"})
    try:
        ping(runtime.engine)
    except Exception:
        return JSONResponse(
            {"status": "unhealthy", "message": "The database is not reachable"}, status_code=503
        )
    return JSONResponse({"status": "ok", "message": "Service is running"})


@get_and_head(
    "/health/celery",
    response_model=CeleryHealthReport,
    dependencies=[rate_limit(RULES.celery_health)],
    responses={
        **error_responses(RateLimited),
        503: {
            "model": CeleryHealthReport,
            "description": "No worker answered, or the broker is down.",
        },
    },
)
def celery_health(runtime: RuntimeDep) -> JSONResponse:
    """Distributed mode: do Celery workers answer? 503 when none does or the broker is down."""
    queue = _celery_queue(runtime.queue)
    if queue is None:
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


@get_and_head("/version", response_model=VersionInfo)
def version(request: Request, runtime: RuntimeDep) -> VersionInfo:
    """What is deployed. Never includes secrets or connection strings."""
    settings = runtime.settings
    return VersionInfo(
        version=__version__,
        git_commit=settings.git_commit,
        deploy_time=settings.deploy_time or request.app.state.started_at.isoformat(),
        started_at=request.app.state.started_at.isoformat(),
        environment=settings.environment.value,
        edit_provider=settings.resolved_edit_provider.value,
        prompt_enhancement=_enhancement(settings),
        database=settings.database_backend,
        storage="s3" if settings.uses_s3 else "local",
        python=platform.python_version(),
    )


@router.api_route(IMAGES_ROUTE + "/{key:path}", methods=["GET", "HEAD"], include_in_schema=False)
def image_file(
    key: str,
    runtime: RuntimeDep,
    expires: str | None = None,
    signature: str | None = None,
) -> FileResponse:
    storage = runtime.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("images are served by the object store, not by this API")
    try:
        # Also what keeps the signing key and temporary files out: no key segment starts with a dot.
        path = storage.path_for(key)
    except ObjectNotFound:
        raise NotFound("no such image") from None
    # Checked before the file is looked for, so an unsigned request learns nothing of what exists.
    verdict = storage.check_link(key, expires=expires, signature=signature)
    if verdict.refusal is not None:
        raise Forbidden(verdict.refusal.value)
    if not path.is_file():
        raise NotFound("no such image")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # A signed link must not be kept (by the browser or a shared cache) past its expiry.
    cache_control = (
        IMMUTABLE if storage.signer is None else f"private, max-age={verdict.remaining_seconds}"
    )
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
    )


def _enhancement(settings: Settings) -> str:
    if not settings.enable_prompt_enhancement:
        return "off"
    if settings.resolved_llm_api_key is None:
        return "off (no LLM key)"
    return f"{settings.llm_provider.value} ({settings.resolved_llm_model})"


def _celery_queue(queue: JobQueue | None) -> CeleryQueue | None:
    """The queue of a distributed API process; None in embedded mode, whose process never
    imports Celery (nor does this)."""
    if queue is None or isinstance(queue, InProcessQueue):
        return None
    from mizual.kit.queue.celery_queue import CeleryQueue

    return queue if isinstance(queue, CeleryQueue) else None
