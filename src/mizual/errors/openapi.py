"""The error answers, as the OpenAPI document describes them to clients and their generators.

Every refusal has the one shape `errors.handlers` gives it; each route lists the errors it can
raise, so a generated client knows their statuses and a fuzzer can hold the API to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mizual.errors import (
    InvalidInput,
    MizualError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)


class ErrorBody(BaseModel):
    error: str = Field(description="A stable code, such as invalid_image or rate_limited.")
    detail: str = Field(description="What went wrong and what to do, for a person to read.")


class InternalErrorBody(ErrorBody):
    request_id: str = Field(description="Quote it when reporting the problem.")


_RATE_LIMIT_HEADERS = {
    name: {"description": description, "schema": {"type": "integer"}}
    for name, description in [
        ("Retry-After", "Seconds to wait before trying again."),
        ("RateLimit-Limit", "Requests allowed in the window."),
        ("RateLimit-Remaining", "Requests left in the window."),
        ("RateLimit-Reset", "Seconds until the window allows another request."),
    ]
}


_RETRY_AFTER_HEADER = {"Retry-After": _RATE_LIMIT_HEADERS["Retry-After"]}


def error_responses(*errors: type[MizualError]) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route that can raise `errors` (and, like any, answer 503 while a
    service it depends on is down, or fail with 500). Errors that share a status share its
    entry, described by the first of them listed."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        responses.setdefault(
            error.status_code, {"model": ErrorBody, "description": error.description}
        )
        if error is RateLimited or issubclass(error, RateLimited):
            responses[error.status_code]["headers"] = _RATE_LIMIT_HEADERS
    responses.setdefault(
        ServiceUnavailable.status_code,
        {"model": ErrorBody, "description": ServiceUnavailable.description},
    )
    responses[ServiceUnavailable.status_code]["headers"] = _RETRY_AFTER_HEADER
    responses[500] = {"model": InternalErrorBody, "description": MizualError.description}
    return responses


# What every JSON-body route can answer besides its own refusals.
JSON_BODY_ERRORS = (PayloadTooLarge, UnsupportedMediaType, InvalidInput, RateLimited)
ADMIN_ERRORS = (Unauthorized, NotFound, RateLimited)
