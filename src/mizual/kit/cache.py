"""A small key/value cache with TTLs. Embedded mode keeps it in the process.

Callers write through it (`set`) after every database change they make, and fill it from a
read (`add`, which never overwrites), so a reader that loaded a row just before a writer changed
it cannot put the older state back over the newer one (see the edits service).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Protocol


class Cache(Protocol):
    def get(self, key: str) -> Any | None: ...

    async def aget(self, key: str) -> Any | None:
        """`get` for the event loop: the same answer, without holding a thread meanwhile."""
        ...

    def get_many(self, keys: list[str]) -> list[Any | None]: ...

    def set(self, key: str, value: Any, *, ttl_seconds: int) -> None: ...

    def add(self, key: str, value: Any, *, ttl_seconds: int) -> bool:
        """Set only if the key is absent; True when it was set."""
        ...

    def delete(self, key: str) -> None: ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None:
        """Close what `aget` opened; on the event loop it ran on."""
        ...


class MemoryCache:
    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= now:
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    async def aget(self, key: str) -> Any | None:
        return self.get(key)  # a dictionary look-up: no need to leave the loop

    def get_many(self, keys: list[str]) -> list[Any | None]:
        return [self.get(key) for key in keys]

    def set(self, key: str, value: Any, *, ttl_seconds: int) -> None:
        with self._lock:
            self._store(key, value, ttl_seconds)

    def add(self, key: str, value: Any, *, ttl_seconds: int) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > time.monotonic():
                return False
            self._store(key, value, ttl_seconds)
            return True

    def _store(self, key: str, value: Any, ttl_seconds: int) -> None:
        self._entries[key] = (time.monotonic() + ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            lookups = self.hits + self.misses
            return {
                "backend": "memory",
                "entries": len(self._entries),
                "max_entries": self._max_entries,
                "keyspace_hits": self.hits,
                "keyspace_misses": self.misses,
                "hit_rate": round(self.hits / lookups, 4) if lookups else None,
            }

    def close(self) -> None:
        with self._lock:
            self._entries.clear()

    async def aclose(self) -> None:
        pass
