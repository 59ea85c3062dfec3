"""Where originals and results live.

Keys are relative paths such as `preview/originals/<id>.jpg`.
"""

from __future__ import annotations

import re
from typing import Protocol

_KEY_PATTERN = re.compile(
    r"[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*(?:/[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)*"
)


def is_safe_key(key: str) -> bool:
    """A key of plain path segments: no `..`, no leading `/`, no backslashes."""
    return bool(_KEY_PATTERN.fullmatch(key)) and ".." not in key


class StorageError(Exception):
    """The store could not be reached or refused an operation; callers decide if it is retryable."""


class ObjectNotFound(StorageError):
    pass


class Storage(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str:
        """A URL a client can fetch the object from."""
        ...

    def close(self) -> None: ...
