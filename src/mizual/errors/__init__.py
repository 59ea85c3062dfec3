"""The domain error hierarchy.

Services and workers raise these; they never raise HTTP errors. Each class carries what a client
gets: its HTTP status, a stable `code`, and the `description` the OpenAPI document gives it.
`errors.handlers` maps every `MizualError` to a JSON response in one handler; a route lists the
errors it can raise with `errors.openapi.error_responses(NotFound, ...)`, so the docs follow.
"""

from __future__ import annotations


class MizualError(Exception):
    status_code = 500
    code = "internal_error"
    description = "Something failed on the server; the details are in its log."

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(MizualError):
    status_code = 422
    code = "invalid_input"
    description = "A field is missing or invalid; `detail` names it."


class InvalidImage(InvalidInput):
    code = "invalid_image"


class UnsupportedImageType(MizualError):
    status_code = 415
    code = "unsupported_image_type"
    description = "Not JSON, or not an image format Mizual accepts."


class UnsupportedMediaType(MizualError):
    """The request body is not in the format the endpoint reads (JSON)."""

    status_code = 415
    code = "unsupported_media_type"
    description = "Not JSON, or not an image format Mizual accepts."


class PayloadTooLarge(MizualError):
    status_code = 413
    code = "payload_too_large"
    description = "The body, the image or its pixel count is above the limit."


class NotReady(MizualError):
    """The edit is not in the state the request needs (rating an edit that has not succeeded).
    400, as the reference answers it."""

    status_code = 400
    code = "not_ready"
    description = (
        "The edit is not in a state that allows this (only a completed edit can be rated)."
    )


class NotFound(MizualError):
    status_code = 404
    code = "not_found"
    description = "No such edit (or, for admin routes, ADMIN_TOKEN is not set)."


class Conflict(MizualError):
    status_code = 409
    code = "conflict"
    description = (
        "The request conflicts with what is stored (a second rating, an unfinished parent)."
    )


class Gone(MizualError):
    """The edit existed and was deleted (`DELETE /edit/{uuid}`): its images and prompt are
    erased; only the fact that it was deleted is kept."""

    status_code = 410
    code = "gone"
    description = "The edit was deleted: its images and prompt are gone for good."


class ChainTooLong(MizualError):
    status_code = 422
    code = "chain_too_long"
    description = "A field is missing or invalid; `detail` names it."


class Unauthorized(MizualError):
    status_code = 401
    code = "unauthorized"
    description = (
        "The admin token is missing or wrong, or an edit's cancel or deletion was asked "
        "without a token."
    )


class Forbidden(MizualError):
    status_code = 403
    code = "forbidden"
    description = "The token given does not allow this (not the edit's token, nor the admin's)."


class RateLimited(MizualError):
    status_code = 429
    code = "rate_limited"
    description = "Too many requests from this client; `Retry-After` says when to try again."

    def __init__(self, message: str, *, retry_after: int, limit: int, remaining: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit
        self.remaining = remaining


class ServiceUnavailable(MizualError):
    status_code = 503
    code = "service_unavailable"
    description = (
        "A service Mizual depends on (database, job queue, storage) is unreachable; "
        "`Retry-After` says when to try again."
    )

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
