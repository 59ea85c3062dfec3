"""Which exceptions mean "a service we depend on is down for now", not "this request is wrong".

An outage of the database, the object store or Redis is answered 503 with Retry-After by the
API, and retried (then handed back to the reconciler) by the pipeline, never turned into a
failed edit: the same request succeeds once the service is back.
"""

from __future__ import annotations

from enum import StrEnum

import redis
from sqlalchemy import exc as sa

from mizual.kit.storage.base import ObjectNotFound, StorageError


class Outage(StrEnum):
    DATABASE = "database"
    STORAGE = "storage"
    REDIS = "redis"


# What a person is told; Retry-After says when to try again.
OUTAGE_MESSAGES = {
    Outage.DATABASE: "The database is unreachable right now. Please try again in a few seconds.",
    Outage.STORAGE: "Image storage is unreachable right now. Please try again in a few seconds.",
    Outage.REDIS: "A service Mizual depends on (Redis) is unreachable right now. Please try "
    "again in a few seconds.",
}


def outage_of(exc: BaseException) -> Outage | None:
    """The service an exception says is down, or None for any other error (a bug, bad data)."""
    if isinstance(exc, sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
        # Connection refused or lost, the server shutting down, SQLite's "database is locked",
        # a pool with no free connection: all pass by themselves.
        return Outage.DATABASE
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return Outage.DATABASE
    if isinstance(exc, StorageError) and exc.transient and not isinstance(exc, ObjectNotFound):
        return Outage.STORAGE
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return Outage.REDIS
    return None


def describe(exc: BaseException) -> str:
    """One short line for the log: the driver's first line, never the SQL or its parameters."""
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first_line[:200]}"
