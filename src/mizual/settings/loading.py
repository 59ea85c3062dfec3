"""Reading the settings at start-up, a bad value reported as one sentence per variable."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mizual.settings.model import Settings
from mizual.settings.parsing import is_redis_url
from mizual.settings.report import describe_errors, variable_sources


class ConfigurationError(Exception):
    """Raised at start-up when a variable has an invalid value; the message names it."""


def load_settings(*, distributed: bool = False, **overrides: Any) -> Settings:
    """Read the settings. `distributed` (API and worker processes): Redis defaults to the
    broker's when the broker is Redis, so the cache and the limits are shared without a second
    variable."""
    try:
        settings = Settings(**overrides)
        if distributed and settings.redis_url is None:
            broker = settings.celery_broker_url
            if not is_redis_url(broker):
                raise ConfigurationError(
                    "invalid configuration: REDIS_URL must be set when CELERY_BROKER_URL is not "
                    "a Redis URL (the status cache, the rate limits and the event streams live "
                    "in Redis), e.g. REDIS_URL=redis://localhost:6379/0"
                )
            settings = Settings(**overrides, redis_url=broker)
        return settings
    except ValidationError as exc:
        problems = describe_errors(exc, sources=[overrides, *variable_sources()])
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
