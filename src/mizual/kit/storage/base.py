"""Where originals and results live.

Keys are relative paths such as `preview/originals/<id>.jpg`.
"""

from __future__ import annotations

import re
from typing import Protocol

_KEY_PATTERN = re.compile(
    r"[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*(?:/[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)*"
)


# S3's limit on a key, and the usual limit on a file name (a longer one is an OSError).
MAX_KEY_CHARS = 1024
MAX_SEGMENT_CHARS = 255


def is_safe_key(key: str) -> bool:
    """A key of plain path segments: no `..`, no leading `/`, no backslashes, none too long."""
    return (
        len(key) <= MAX_KEY_CHARS
        and bool(_KEY_PATTERN.fullmatch(key))
        and ".." not in key
        and all(len(segment) <= MAX_SEGMENT_CHARS for segment in key.split("/"))
    )


class StorageError(Exception):
    """The store could not be reached or refused an operation. `transient`: it could not be
    reached or answered that it is unavailable (it will pass: an outage), rather than refused
    the operation (a missing bucket, no permission: it will not pass by itself)."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class ObjectNotFound(StorageError):
    pass


class Storage(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""
        ...

    def url(self, key: str) -> str:
        """A URL a client can fetch the object from."""
        ...

    def close(self) -> None: ...
