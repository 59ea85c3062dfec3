"""The error answers, as the OpenAPI document describes them to clients and their generators.

Every refusal has the one shape that `app.py` gives it; each route lists the statuses it can
answer with, so a generated client knows them and a fuzzer can hold the API to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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

_DESCRIPTIONS = {
    400: "The edit is not in a state that allows this (only a completed edit can be rated).",
    401: "The admin token is missing or wrong.",
    404: "No such edit (or, for admin routes, ADMIN_TOKEN is not set).",
    409: "The request conflicts with what is stored (a second rating, an unfinished parent).",
    413: "The body, the image or its pixel count is above the limit.",
    415: "Not JSON, or not an image format Mizual accepts.",
    422: "A field is missing or invalid; `detail` names it.",
    429: "Too many requests from this client; `Retry-After` says when to try again.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route that can refuse with `statuses` (and, like any, fail with 500)."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses
    }
    if 429 in responses:
        responses[429]["headers"] = _RATE_LIMIT_HEADERS
    responses[500] = {
        "model": InternalErrorBody,
        "description": "Something failed on the server; the details are in its log.",
    }
    return responses


# What every JSON-body route can answer besides its own refusals.
JSON_BODY_ERRORS = (413, 415, 422, 429)
ADMIN_ERRORS = (401, 404, 429)
