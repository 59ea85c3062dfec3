"""Request dependencies shared by the routers: the runtime, the client's address, rate limits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from mizual.kit.clientip import resolve_client_ip
from mizual.kit.ratelimit import Rule
from mizual.runtime import Runtime
from mizual.settings import Settings

# The dependencies that only look things up are `async def`: FastAPI runs a plain `def` one in
# its thread pool, a thread hop (and a wait for the GIL) per request for a dictionary lookup.


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _runtime(request: Request) -> Runtime:
    return get_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def client_ip(request: Request) -> str:
    """The client's address; X-Forwarded-For counts only from TRUSTED_PROXIES."""
    peer = request.client.host if request.client else "unknown"
    settings: Settings = request.app.state.runtime.settings
    return resolve_client_ip(
        peer,
        request.headers.getlist("x-forwarded-for"),
        trusted_proxies=settings.trusted_proxies,
    )


async def _client_ip(request: Request) -> str:
    return client_ip(request)


ClientIp = Annotated[str, Depends(_client_ip)]


class Rules:
    """Every rate limit, per endpoint, with the reference's values."""

    def __init__(self, settings: Settings) -> None:
        self.edit_daily = Rule.of(
            "edit_daily",
            f"{settings.rate_limit_daily_images}/day",
            f"at most {settings.rate_limit_daily_images} edits a day are allowed per client",
        )
        self.edit_burst = Rule.of(
            "edit_burst",
            f"1/{max(settings.rate_limit_burst_seconds, 1)} seconds",
            f"only one edit every {settings.rate_limit_burst_seconds} seconds is allowed",
        )
        self.edit_invalid = Rule.of(
            "edit_invalid",
            f"{settings.rate_limit_invalid_edits_per_minute}/minute",
            f"at most {settings.rate_limit_invalid_edits_per_minute} invalid edit requests a "
            "minute are allowed per client; check the request against the API documentation",
        )
        self.status = Rule.of(
            "status",
            f"{settings.rate_limit_status_checks_per_minute}/minute",
            f"at most {settings.rate_limit_status_checks_per_minute} status checks a minute",
        )
        self.feedback = Rule.of("feedback", "5/minute", "at most 5 feedback messages a minute")
        self.feedback_lookup = Rule.of(
            "feedback_lookup", "10/minute", "at most 10 feedback look-ups a minute"
        )
        self.chain = Rule.of("chain", "10/minute", "at most 10 chain look-ups a minute")
        self.celery_health = Rule.of("celery_health", "10/minute", "at most 10 a minute")
        self.debug_db_schema = Rule.of("debug_db_schema", "5/minute", "at most 5 a minute")
        self.debug_cache_stats = Rule.of("debug_cache_stats", "5/minute", "at most 5 a minute")
        self.debug_db_performance = Rule.of(
            "debug_db_performance", "3/minute", "at most 3 a minute"
        )


def rate_limit(rule_name: str) -> Any:
    async def spend(request: Request) -> None:
        rules: Rules = request.app.state.rules
        await get_runtime(request).limiter.ahit(getattr(rules, rule_name), client_ip(request))

    return Depends(spend)
