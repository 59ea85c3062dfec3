"""The FastAPI application: routers, middleware, error mapping, and the runtime's lifetime."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mizual import __version__, docs_ui, web
from mizual.deps import Rules
from mizual.edits.router import router as edits_router
from mizual.errors import MizualError, RateLimited
from mizual.feedback.router import router as feedback_router
from mizual.kit.bodylimit import BodySizeLimit
from mizual.kit.dataurl import describe_bytes
from mizual.kit.periodic import Periodic
from mizual.openapi import operation_id
from mizual.ops.debug import router as debug_router
from mizual.ops.metrics import router as metrics_router
from mizual.ops.router import router as ops_router
from mizual.runtime import build_runtime
from mizual.settings import Settings

logger = logging.getLogger(__name__)

# JSON and base64 overhead on top of the largest image accepted.
_BODY_OVERHEAD_BYTES = 64 * 1024


def create_app(settings: Settings, *, with_workers: bool = True) -> FastAPI:
    """`with_workers`: edits run in this process (embedded); otherwise they go to Celery."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(
            settings, with_workers=with_workers, send_to_celery=not with_workers
        )
        app.state.runtime = runtime
        runtime.events.start()
        if with_workers:
            runtime.edits.recover_unfinished()
        # Safe to run in every API process: each round is one conditional UPDATE.
        sweeper = Periodic(
            "stuck-edit-sweep",
            runtime.edits.fail_stuck_edits,
            every_seconds=settings.sweep_interval_seconds,
        ).start()
        try:
            yield
        finally:
            sweeper.stop()
            await runtime.events.stop()
            await runtime.close_loop_clients()
            runtime.close()

    app = FastAPI(
        title="Mizual",
        version=__version__,
        description="Edit images with natural-language prompts. Submit with `POST /edit-image/`, "
        "then follow the edit at its `polling_url` until `is_complete` (processing finished); "
        "`is_error` then says whether it failed.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Served by docs_ui instead, with their files from this server rather than a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.rules = Rules(settings)
    app.state.started_at = datetime.now(UTC)
    app.include_router(edits_router)
    app.include_router(feedback_router)
    app.include_router(ops_router)
    app.include_router(debug_router)
    app.include_router(metrics_router)
    web.install(app)  # the page at /
    docs_ui.install(app)  # /docs and /redoc
    install_error_handlers(app)
    max_body = settings.max_upload_bytes * 4 // 3 + _BODY_OVERHEAD_BYTES
    app.add_middleware(
        BodySizeLimit,
        max_bytes=max_body,
        advice=f"Images may be at most {describe_bytes(settings.max_upload_bytes)}.",
    )
    # Outside the body limit, so that refusals (413 as well as 429) carry the CORS headers a
    # browser needs to let the page read their message.
    app.add_middleware(CORSMiddleware, **settings.cors_policy.middleware_options())
    return app


def error_body(code: str, detail: str) -> dict[str, Any]:
    return {"error": code, "detail": detail}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MizualError)
    async def domain_error(_request: Request, exc: MizualError) -> JSONResponse:
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimited):
            headers = {
                "Retry-After": str(exc.retry_after),
                "RateLimit-Limit": str(exc.limit),
                "RateLimit-Remaining": str(exc.remaining),
                "RateLimit-Reset": str(exc.retry_after),
            }
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"] if part != "body")
            message = error["msg"]
            if error["type"] == "json_invalid":
                # Its location is a character offset, not a field: say so rather than "16: ..."
                reason = error.get("ctx", {}).get("error", "")
                message = f"the request body is not valid JSON ({reason} at character {location})"
                location = ""
            elif error["type"] == "extra_forbidden":
                message = "not a field of this request; check its spelling"
            elif error["type"] == "value_error":
                message = str(error.get("ctx", {}).get("error", message))  # no "Value error, "
            problems.append(f"{location}: {message}" if location else message)
        return JSONResponse(
            error_body("invalid_input", "; ".join(problems) or "invalid request"),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        detail = str(exc.detail)
        allowed = (exc.headers or {}).get("Allow")
        if exc.status_code == 405 and allowed:
            detail = f"{request.method[:20]} is not allowed here; this endpoint answers {allowed}"
        return JSONResponse(
            error_body(code, detail), status_code=exc.status_code, headers=exc.headers
        )

    # Added first, so innermost: inside the CORS and body-size middleware, whose headers and
    # 413 then still apply.
    app.add_middleware(UnexpectedErrors)


class UnexpectedErrors:
    """An exception no handler took becomes a 500 `internal_error` with a request id; the
    traceback goes to the log under that id.

    Not `app.exception_handler(Exception)`: Starlette re-raises after that handler has answered,
    uvicorn then logs the traceback a second time and closes the connection, and a client's
    next request on that kept-alive connection fails with "connection reset"."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except StarletteHTTPException:
            raise  # the body-size limit's 413, which its middleware answers
        except Exception as exc:
            if response_started:
                raise  # half a response: only closing the connection can end it
            response = _internal_error(Request(scope), exc)
            await response(scope, receive, send)


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = uuid.uuid4().hex[:16]
    logger.error(
        "request %s %s failed (request id %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return JSONResponse(
        {
            **error_body(
                "internal_error",
                "Something went wrong on our side. If it keeps happening, report the request id.",
            ),
            "request_id": request_id,
        },
        status_code=500,
    )
