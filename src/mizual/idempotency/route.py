"""The HTTP side of `Idempotency-Key`: a route class that replays, waits or runs the handler.

`IdempotentRoute` wraps the endpoint's own handler, so it runs after `JsonBodyRoute` has read
and parsed the body (put it after `JsonBodyRoute` in a route class's bases) and before the
endpoint's dependencies: a replay spends no rate-limit budget, and the request hash is taken
from the body already parsed, in pieces, so a 20 MB upload is not copied again. For a form, the
hash is of its fields and its files' SHA-256 (`JsonBodyRoute`'s `identity`), not of its raw
bytes: a retry's boundary differs, its content does not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from mizual.deps import client_ip, get_runtime
from mizual.errors import Conflict
from mizual.errors.handlers import error_body
from mizual.idempotency.repository import KeyId
from mizual.idempotency.service import (
    POLL_SECONDS,
    WAIT_SECONDS,
    Busy,
    Claimed,
    IdempotencyService,
    Outcome,
    Replay,
    key_hash,
    parse_key,
    request_hash,
)
from mizual.kit.jsonbody import body_identity
from mizual.observability import metrics

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
BUSY_MESSAGE = "a request with this Idempotency-Key is still being processed; retry in a moment"
BUSY_RETRY_AFTER_SECONDS = 1
# In the OpenAPI document, so that the docs and generated clients offer the header.
_HEADER_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Ours: a random key (a UUID) per submission. Sent again with the same body "
    "within 24 h, the first answer is replayed (`Idempotent-Replayed: true`) and nothing is "
    "done or charged twice; with another body, 422. Per client address.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def _service(request: Request) -> IdempotencyService:
    return get_runtime(request).idempotency


def _key_of(request: Request, *, route: str, raw_key: str) -> KeyId:
    return KeyId(scope=client_ip(request), route=route, key_hash=key_hash(raw_key))


def _raw_key(request: Request) -> str | None:
    value = request.headers.get(HEADER)
    return None if value is None else parse_key(value)


async def may_replay(request: Request, *, route: str) -> bool:
    """The request's key (checked: 422 when malformed) has an answer or a request running, so
    it will be replayed or refused, never run: for the checks made before the body is read."""
    raw_key = _raw_key(request)
    if raw_key is None:
        return False
    key = _key_of(request, route=route, raw_key=raw_key)
    return await run_in_threadpool(_service(request).is_live, key)


class IdempotentRoute(APIRoute):
    """A route that honours `Idempotency-Key` (see the module's text and the service's)."""

    # Fields of the answer stored only sealed with the raw key (the submitter's secrets).
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        extra = dict(self.openapi_extra or {})
        parameters = extra.get("parameters", [])
        # Not twice: including a router builds its routes again from their openapi_extra.
        if self.body_field is not None and _HEADER_PARAMETER not in parameters:
            extra["parameters"] = [*parameters, _HEADER_PARAMETER]
            self.openapi_extra = extra

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler
        route, secret_fields = self.path, self.secret_fields

        async def idempotent(request: Request) -> Response:
            raw_key = _raw_key(request)
            if raw_key is None:
                return await handler(request)
            service = _service(request)
            key = _key_of(request, route=route, raw_key=raw_key)
            digest = await run_in_threadpool(request_hash, await body_identity(request))
            outcome = await _claim_or_wait(service, key, digest=digest, raw_key=raw_key)
            if isinstance(outcome, Replay):
                metrics.idempotent_replay(route)
                return JSONResponse(
                    outcome.body,
                    status_code=outcome.status_code,
                    headers={REPLAYED_HEADER: "true"},
                )
            if isinstance(outcome, Busy):
                return JSONResponse(
                    error_body(Conflict.code, BUSY_MESSAGE),
                    status_code=409,
                    headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
                )
            try:
                response = await handler(request)
            except Exception:
                await _release(service, key, outcome)
                raise
            body = _json_body(response)
            if body is None:
                await _release(service, key, outcome)
                return response
            try:
                await run_in_threadpool(
                    lambda: service.complete(
                        key,
                        claim=outcome.claim,
                        raw_key=raw_key,
                        status_code=response.status_code,
                        body=body,
                        secret_fields=secret_fields,
                    )
                )
            except Exception as exc:  # the request succeeded: its answer is still given
                logger.warning("%s: the answer for an Idempotency-Key was not kept: %r", route, exc)
            return response

        return idempotent


async def _claim_or_wait(
    service: IdempotencyService, key: KeyId, *, digest: str, raw_key: str
) -> Outcome:
    """Claim the key, or wait up to WAIT_SECONDS for the request holding it to answer."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        outcome = await run_in_threadpool(
            lambda: service.claim(key, request_hash=digest, raw_key=raw_key)
        )
        if not isinstance(outcome, Busy) or time.monotonic() >= deadline:
            return outcome
        await asyncio.sleep(POLL_SECONDS)


def _json_body(response: Response) -> dict[str, Any] | None:
    """A 2xx answer's JSON object, the one kind kept; None for every other answer."""
    content = getattr(response, "body", None)  # a streamed answer has none
    if not 200 <= response.status_code < 300 or not isinstance(content, bytes):
        return None
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _release(service: IdempotencyService, key: KeyId, claimed: Claimed) -> None:
    """A failed request leaves no trace, so its retry runs afresh."""
    try:
        await run_in_threadpool(service.release, key, claim=claimed.claim)
    except Exception as exc:  # the claim goes stale in STALE_AFTER, then is taken over
        logger.warning("an Idempotency-Key claim was not released: %r", exc)
