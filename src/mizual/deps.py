"""Request dependencies shared by the routers: one typed dependency per collaborator of the
process's runtime, the client's address, the rate limits and the admin check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mizual.edits.events import EditEvents
from mizual.edits.polls import REFUSAL, SPENT_RULE
from mizual.edits.removal import EditRemoval
from mizual.edits.service import EditService
from mizual.edits.status import EditStatusStore
from mizual.errors import NotFound, Unauthorized
from mizual.feedback.service import FeedbackService
from mizual.kit.bearer import bearer_matches
from mizual.kit.clientip import resolve_client_ip
from mizual.ratelimits import LimitRule, ResolvedRules
from mizual.runtime import Runtime

# The dependencies that only look things up are `async def`: FastAPI runs a plain `def` one in
# its thread pool, a thread hop (and a wait for the GIL) per request for a dictionary lookup.


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _runtime(request: Request) -> Runtime:
    return get_runtime(request)


def _part_of_runtime(pick: Callable[[Runtime], object]) -> Any:
    async def dependency(request: Request) -> object:
        return pick(get_runtime(request))

    return Depends(dependency)


# For the operational routes, which read several of the process's parts (engine, queue, cache).
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
EditsDep = Annotated[EditService, _part_of_runtime(lambda runtime: runtime.edits)]
RemovalDep = Annotated[EditRemoval, _part_of_runtime(lambda runtime: runtime.removal)]
EditStatusDep = Annotated[EditStatusStore, _part_of_runtime(lambda runtime: runtime.edit_status)]
EventsDep = Annotated[EditEvents, _part_of_runtime(lambda runtime: runtime.events)]
FeedbackDep = Annotated[FeedbackService, _part_of_runtime(lambda runtime: runtime.feedback)]


def client_ip(request: Request) -> str:
    """The client's address; X-Forwarded-For counts only from TRUSTED_PROXIES."""
    peer = request.client.host if request.client else "unknown"
    return resolve_client_ip(
        peer,
        request.headers.getlist("x-forwarded-for"),
        trusted_proxies=get_runtime(request).settings.trusted_proxies,
    )


async def _client_ip(request: Request) -> str:
    return client_ip(request)


ClientIp = Annotated[str, Depends(_client_ip)]


def rules_of(request: Request) -> ResolvedRules:
    rules: ResolvedRules = request.app.state.rules
    return rules


def rate_limit(rule: LimitRule) -> Any:
    """A dependency that spends one request of the client's allowance under `rule` (429 when
    none is left)."""

    async def spend(request: Request) -> None:
        # `edits.polls` may have spent this request already, or met its refusal.
        refusal = request.scope.get(REFUSAL)
        if refusal is not None:
            raise refusal
        if request.scope.get(SPENT_RULE) == rule.name:
            return
        await get_runtime(request).limiter.ahit(rules_of(request)[rule], client_ip(request))

    return Depends(spend)


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
    """The admin routes (`/debug/*`, `/metrics`): only with the bearer token ADMIN_TOKEN."""
    token = get_runtime(request).settings.admin_token
    if token is None or not token.get_secret_value():
        raise NotFound("Not Found")
    if not bearer_matches(request.headers.get("authorization", ""), token.get_secret_value()):
        raise Unauthorized("this endpoint needs 'Authorization: Bearer <ADMIN_TOKEN>'")
