"""The domain error hierarchy.

Services and workers raise these; they never raise HTTP errors. `app.py` maps every
`MizualError` to a JSON response in one handler, using `status_code` and `code`.
"""

from __future__ import annotations


class MizualError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(MizualError):
    status_code = 422
    code = "invalid_input"


class InvalidImage(InvalidInput):
    code = "invalid_image"


class UnsupportedImageType(MizualError):
    status_code = 415
    code = "unsupported_image_type"


class UnsupportedMediaType(MizualError):
    """The request body is not in the format the endpoint reads (JSON)."""

    status_code = 415
    code = "unsupported_media_type"


class PayloadTooLarge(MizualError):
    status_code = 413
    code = "payload_too_large"


class NotReady(MizualError):
    """The edit is not in the state the request needs (rating an edit that has not succeeded).
    400, as the reference answers it."""

    status_code = 400
    code = "not_ready"


class NotFound(MizualError):
    status_code = 404
    code = "not_found"


class Conflict(MizualError):
    status_code = 409
    code = "conflict"


class ChainTooLong(MizualError):
    status_code = 422
    code = "chain_too_long"


class Unauthorized(MizualError):
    status_code = 401
    code = "unauthorized"


class RateLimited(MizualError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, limit: int, remaining: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit
        self.remaining = remaining


class ServiceUnavailable(MizualError):
    status_code = 503
    code = "service_unavailable"
