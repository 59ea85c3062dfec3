"""The lean path of `GET /edit/{uuid}`, the most frequent request by far (clients poll it every
0.5 to 2 s): answered from the status cache before any middleware, routing or dependency runs.

For a canonical edit id it spends the client's status allowance and reads the cached view in
one step (`kit.limitedread`: one Redis round trip), and sends the view's JSON as the cache
holds it, with the route's headers and the CORS headers the middleware would add. Everything
else goes on to the route, told what was already done so that nothing is counted twice: a
refusal is raised there as the 429 it is; a miss, the changing marker and a deleted edit are
read there as always (the database, 404, 410). The route stays the one description of the
operation (OpenAPI, error mapping); this path only answers what the route would answer from
the cache.

Measured on this project's 2-core machine (bench/RESULTS.md, issue 21): under uvicorn, a plain
ASGI answer is about 4.7 times as fast as the same answer from a one-route FastAPI app.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from uuid import UUID

from starlette.datastructures import Headers, State
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Scope, Send

from mizual.edits.status import servable
from mizual.errors import RateLimited
from mizual.kit.clientip import resolve_client_ip
from mizual.kit.throttle import ThrottledWarning
from mizual.ratelimits import RULES

if TYPE_CHECKING:
    from mizual.runtime import Runtime

logger = logging.getLogger(__name__)

_PREFIX = "/edit/"
_PATH = re.compile(r"/edit/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Set in the scope for the route's `rate_limit` dependency (`deps.rate_limit`): the rule whose
# request this layer already counted, or the refusal it met.
SPENT_RULE = "mizual.rate_limit_spent"
REFUSAL = "mizual.rate_limit_refusal"


class StatusPolls:
    """Asked by the application (`app.MizualApp`) before its middleware: whether it answered."""

    def __init__(self, *, state: State, cors: CORSMiddleware) -> None:
        self._state = state
        self._cors = cors  # its headers, added as the middleware adds them to every answer
        self._failing = ThrottledWarning(logger)

    async def answered(self, scope: Scope, send: Send) -> bool:
        if not (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and _PATH.fullmatch(scope["path"])
            and not scope.get("root_path")
        ):
            return False
        runtime: Runtime | None = getattr(self._state, "runtime", None)
        if runtime is None:
            return False
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await self._cors.send(message, send, Headers(scope=scope))

        try:
            return await self._answer(scope, sending, runtime)
        except Exception as exc:
            if started:
                raise  # half an answer: only closing the connection ends it
            # Whatever went wrong here, the route answers instead (and reports it); logged at
            # most every 30 s, since a lasting fault would otherwise log every poll.
            self._failing.warn(
                "the status polls' lean path failed, the route answers instead: %r", exc
            )
            return False

    async def _answer(self, scope: Scope, send: Send, runtime: Runtime) -> bool:
        rule = self._state.rules[RULES.status]
        edit_uuid = UUID(scope["path"][len(_PREFIX) :])
        try:
            spent = await runtime.limited_read(
                rule, _client(scope, runtime), runtime.edit_status.status_key(edit_uuid)
            )
        except RateLimited as refusal:
            scope[REFUSAL] = refusal
            return False
        if spent is None:
            return False  # the store failed: the route counts (and allows) as it always does
        scope[SPENT_RULE] = rule.name
        payload = spent.payload
        if payload is None or not servable(payload):
            return False
        headers = [
            (b"content-length", str(len(payload)).encode()),
            (b"content-type", b"application/json"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return True


def _client(scope: Scope, runtime: Runtime) -> str:
    """`deps.client_ip`, from the scope."""
    peer: Any = scope.get("client")
    forwarded = [
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    ]
    return resolve_client_ip(
        peer[0] if peer else "unknown",
        forwarded,
        trusted_proxies=runtime.settings.trusted_proxies,
    )
