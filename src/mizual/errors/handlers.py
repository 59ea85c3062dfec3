"""How every error becomes an answer: domain errors, invalid requests, Starlette's HTTP errors,
an outage of a service we depend on (a 503 with Retry-After), and anything unexpected (a 500
with a request id, the traceback in the log under it)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mizual.errors import MizualError, RateLimited, ServiceUnavailable
from mizual.kit.outages import OUTAGE_MESSAGES, describe, outage_of

logger = logging.getLogger(__name__)


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
        elif isinstance(exc, ServiceUnavailable):
            headers = {"Retry-After": str(exc.retry_after)}
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
            outage = outage_of(exc)
            if outage is not None:
                response = _outage(Request(scope), exc, OUTAGE_MESSAGES[outage])
            else:
                response = _internal_error(Request(scope), exc)
            await response(scope, receive, send)


# The database or storage restarting takes seconds; a client told to wait longer would wait
# past the recovery.
OUTAGE_RETRY_AFTER_SECONDS = 2


def _outage(request: Request, exc: Exception, message: str) -> JSONResponse:
    """No traceback: the request was fine, a service was down (logged once per request, short)."""
    logger.warning("%s %s answered 503: %s", request.method, request.url.path, describe(exc))
    return JSONResponse(
        error_body(ServiceUnavailable.code, message),
        status_code=503,
        headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
    )


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
